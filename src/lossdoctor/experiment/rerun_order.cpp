#include "lossdoctor/experiment/rerun_order.hpp"

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "lossdoctor/train/distributed.hpp"

namespace lossdoctor::experiment {

using nlohmann::json;

std::string to_json(const RerunOrder& o) {
  return json{{"kind", "lossdoctor-rerun-order"},
              {"end", o.end},
              {"respec", o.respec},
              {"sets", o.sets},
              {"drop", o.drop},
              {"oversample", o.oversample},
              {"reload", o.reload},
              {"max_steps", o.max_steps},
              {"plan_train_size", o.plan_train_size}}
      .dump();
}

RerunOrder rerun_order_from_json(const std::string& text) {
  try {
    const json j = json::parse(text);
    if (j.at("kind") != "lossdoctor-rerun-order") throw std::runtime_error("not a rerun order");
    RerunOrder o;
    o.end = j.at("end").get<bool>();
    o.respec = j.at("respec").get<bool>();
    o.sets = j.at("sets").get<std::vector<std::string>>();
    o.drop = j.at("drop").get<std::vector<int64_t>>();
    o.oversample = j.at("oversample").get<bool>();
    o.reload = j.at("reload").get<bool>();
    o.max_steps = j.at("max_steps").get<int64_t>();
    o.plan_train_size = j.at("plan_train_size").get<int64_t>();
    return o;
  } catch (const json::exception& e) {
    throw std::runtime_error(std::string("not a rerun order: ") + e.what());
  }
}

void send_rerun_order(train::ProcessGroup& group, const RerunOrder& order) {
  train::broadcast_string(group, to_json(order));
}

RerunOrder receive_rerun_order(train::ProcessGroup& group) {
  return rerun_order_from_json(train::broadcast_string(group, {}));
}

}  // namespace lossdoctor::experiment
