// Rules on the model's output head and the loss that reads it.

#include <fmt/format.h>

#include "lossdoctor/lint/lint_util.hpp"
#include "lossdoctor/lint/rules/rules.hpp"

namespace lossdoctor::lint::rules {

using namespace util;
using spec::LossSpec;

namespace {

const LayerSpec* find_in_tail(const spec::Spec& s, Kind k) {
  for (const LayerSpec* L : output_tail(s.layers))
    if (L->kind == k) return L;
  return nullptr;
}

std::string loss_text(const LossSpec& l) {
  switch (l.kind) {
    case LossSpec::Kind::CrossEntropy:
      return fmt::format("loss: cross_entropy, from_logits: {}", l.from_logits);
    case LossSpec::Kind::Nll:
      return "loss: nll";
    case LossSpec::Kind::Mse:
      return "loss: mse";
    case LossSpec::Kind::Bce:
      return fmt::format("loss: bce, from_logits: {}", l.from_logits);
  }
  return "loss";
}

std::string last_layer_text(const spec::Spec& s) {
  const LayerSpec& L = s.layers.back();
  return fmt::format("last layer: {} at {} ({})", layer_kind_name(L.kind), L.where.str(),
                     L.key_path);
}

}  // namespace

void softmax_into_logits_loss(const spec::Spec& s, const LintContext&, LintResult& r) {
  if (s.loss.kind != LossSpec::Kind::CrossEntropy || !s.loss.from_logits) return;
  if (const LayerSpec* ls = find_in_tail(s, Kind::LogSoftmax)) {
    r.notes.push_back(fmt::format(
        "{} ends in log_softmax before cross_entropy(from_logits: true): harmless, since "
        "log_softmax of log-probabilities returns them unchanged",
        ls->key_path));
  }
  const LayerSpec* sm = find_in_tail(s, Kind::Softmax);
  if (!sm) return;
  Finding f = make_finding("loss_output_mismatch", "error");
  f.confidence = 0.95;
  f.layer = sm->key_path;
  f.evidence = {fmt::format("softmax at {} ({}) feeds the loss", sm->where.str(), sm->key_path),
                loss_text(s.loss) + " applies its own log_softmax to the output"};
  f.explanation =
      "The model outputs softmax probabilities but cross_entropy with from_logits: true treats "
      "them as raw scores and applies softmax a second time. Squashed into [0, 1] the scores "
      "differ too little to drive the loss down, and the gradients shrink, so the loss stalls "
      "near chance; the best fix is to delete the softmax layer, the override below instead tells "
      "the loss its input is already probabilities.";
  f.fix["loss.from_logits"] = "false";
  r.findings.push_back(std::move(f));
}

void probability_loss_on_scores(const spec::Spec& s, const LintContext&, LintResult& r) {
  if (s.loss.kind != LossSpec::Kind::CrossEntropy || s.loss.from_logits) return;
  if (find_in_tail(s, Kind::Softmax)) return;
  const LayerSpec* ls = find_in_tail(s, Kind::LogSoftmax);
  Finding f = make_finding("loss_output_mismatch", "error");
  f.evidence = {loss_text(s.loss) + " takes the log of the model output",
                last_layer_text(s) + (ls ? " (log-probabilities, not probabilities)"
                                         : " (raw scores, not probabilities)")};
  f.explanation =
      "cross_entropy with from_logits: false expects probabilities, but the model ends without a "
      "softmax, so the loss takes the log of raw (or already logged) scores clipped into (0, 1]. "
      "Clipped outputs pass no gradient and the others are scored wrongly, so the loss stalls or "
      "jumps instead of falling.";
  if (ls)
    f.fix["loss.type"] = "nll";
  else
    f.fix["loss.from_logits"] = "true";
  r.findings.push_back(std::move(f));
}

void nll_without_log_softmax(const spec::Spec& s, const LintContext&, LintResult& r) {
  if (s.loss.kind != LossSpec::Kind::Nll) return;
  if (find_in_tail(s, Kind::LogSoftmax)) return;
  const LayerSpec* sm = find_in_tail(s, Kind::Softmax);
  Finding f = make_finding("loss_output_mismatch", "error");
  if (sm) f.layer = sm->key_path;
  f.evidence = {"loss: nll reads log-probabilities",
                last_layer_text(s) + (sm ? " (probabilities, not their log)" : " (raw scores)")};
  f.explanation =
      sm ? "nll expects log-probabilities but the model ends in softmax, so the loss maximises "
           "the probability itself rather than its log. That target saturates: confident mistakes "
           "get almost no gradient and the loss stalls far above where cross-entropy would go."
         : "nll expects log-probabilities but the model emits raw scores, so the loss just pushes "
           "the correct score up without bound and ignores the others. The scores grow without "
           "limit and the reported loss drifts to large negative values or diverges.";
  f.fix["loss.type"] = "cross_entropy";
  f.fix["loss.from_logits"] = sm ? "false" : "true";
  r.findings.push_back(std::move(f));
}

void regression_loss_on_classes(const spec::Spec& s, const LintContext& ctx, LintResult& r) {
  if (s.loss.kind != LossSpec::Kind::Mse && s.loss.kind != LossSpec::Kind::Bce) return;
  const int64_t classes = num_classes(s, ctx);
  if (classes <= 2) return;
  Finding f = make_finding("loss_output_mismatch", "warning");
  f.evidence = {fmt::format("{} on {} classes", loss_text(s.loss), classes)};
  f.explanation = fmt::format(
      "{} scores each of the {} class outputs on its own instead of as one probability "
      "distribution. Its gradients vanish once outputs saturate and it barely penalises confident "
      "mistakes, so training on class labels plateaus well above what cross-entropy reaches.",
      s.loss.kind == LossSpec::Kind::Mse ? "mse" : "bce", classes);
  f.fix["loss.type"] = "cross_entropy";
  f.fix["loss.from_logits"] = find_in_tail(s, Kind::Softmax) ? "false" : "true";
  r.findings.push_back(std::move(f));
}

void activation_on_logits(const spec::Spec& s, const LintContext&, LintResult& r) {
  if (s.loss.kind != LossSpec::Kind::CrossEntropy && s.loss.kind != LossSpec::Kind::Nll) return;
  for (const LayerSpec* L : output_tail(s.layers)) {
    if (!is_activation(L->kind)) continue;
    const bool relu = L->kind == Kind::ReLU;
    Finding f = make_finding("loss_output_mismatch", relu ? "error" : "warning");
    f.layer = L->key_path;
    f.evidence = {fmt::format("{} at {} ({}) comes after the last weight layer and feeds {}",
                              layer_kind_name(L->kind), L->where.str(), L->key_path,
                              loss_text(s.loss))};
    f.explanation = fmt::format(
        "The class scores pass through {} before the loss, which {} the range the logits can "
        "take. Wrong classes cannot be pushed far enough below the right one (and units clipped "
        "to a constant pass no gradient), so the loss stalls above its floor; delete the layer — "
        "overrides cannot remove list items, so the fix replaces it with a no-op dropout of "
        "rate 0.",
        layer_kind_name(L->kind),
        relu ? "clips at zero, removing" : "squashes into a narrow band, limiting");
    f.fix[item_path(*L)] = "{dropout: {rate: 0.0}}";
    r.findings.push_back(std::move(f));
  }
}

}  // namespace lossdoctor::lint::rules
