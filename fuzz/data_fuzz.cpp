// libFuzzer: the data readers through load_dataset, one harness per format (LOSSDOCTOR_FUZZ_
// FORMAT selects it at compile time): IDX images or labels (raw or gzip), CIFAR-10 batches, an
// image in a folder, an exclude file. The fuzzed bytes replace one file of an otherwise valid
// tiny data set; only InputError (DataError, SpecError) may escape.
#include <ATen/ATen.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_util.hpp"
#include "lossdoctor/data/dataset.hpp"
#include "lossdoctor/data/image_io.hpp"
#include "lossdoctor/spec/spec_parser.hpp"
#include "lossdoctor/util/errors.hpp"

namespace {

using namespace lossdoctor;

std::string be32(uint32_t x) {
  return {static_cast<char>(x >> 24), static_cast<char>(x >> 16), static_cast<char>(x >> 8),
          static_cast<char>(x)};
}

/// 12 images of 4×4 and their labels (3 classes), valid.
void write_valid_idx() {
  std::string images = be32(0x803) + be32(12) + be32(4) + be32(4), labels = be32(0x801) + be32(12);
  for (int i = 0; i < 12 * 16; ++i) images.push_back(static_cast<char>(i * 7));
  for (int i = 0; i < 12; ++i) labels.push_back(static_cast<char>(i % 3));
  fuzz::write("images", images);
  fuzz::write("labels", labels);
}

spec::Spec idx_spec(const std::string& images, const std::string& labels,
                    const std::string& exclude = "") {
  return spec::parse_spec_text(
      "data: {format: idx, path: " + fuzz::scratch().string() + ", num_classes: 3, train: {images: " +
          images + ", labels: " + labels + (exclude.empty() ? "" : ", exclude: " + exclude) +
          "}}\nmodel: {layers: [relu]}\n",
      "fuzz.yaml");
}

void load(const spec::Spec& s) {
  try {
    data::load_dataset(s.data, 0);
  } catch (const InputError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool ready = [] {
    write_valid_idx();
    return true;
  }();
  (void)ready;
#if LOSSDOCTOR_FUZZ_FORMAT == 0  // IDX images
  fuzz::write("fuzzed", data, size);
  static const spec::Spec s = idx_spec("fuzzed", "labels");
  load(s);
#elif LOSSDOCTOR_FUZZ_FORMAT == 1  // IDX labels
  fuzz::write("fuzzed", data, size);
  static const spec::Spec s = idx_spec("images", "fuzzed");
  load(s);
#elif LOSSDOCTOR_FUZZ_FORMAT == 2  // CIFAR-10 batch
  fuzz::write("batch.bin", data, size);
  static const spec::Spec s = spec::parse_spec_text(
      "data: {format: cifar10, path: " + fuzz::scratch().string() +
          ", train: {files: [batch.bin]}}\nmodel: {layers: [relu]}\n",
      "fuzz.yaml");
  load(s);
#elif LOSSDOCTOR_FUZZ_FORMAT == 3  // one image of a folder data set; the first byte picks the name
  static const spec::Spec s = [] {
    const auto root = fuzz::scratch() / "folder";
    std::filesystem::create_directories(root / "a");
    std::filesystem::create_directories(root / "b");
    data::save_image((root / "b" / "ok.png").string(), at::full({3, 4, 4}, 100.0));
    return spec::parse_spec_text("data: {format: folder, path: " + root.string() +
                                     ", skip_bad_images: false}\nmodel: {layers: [relu]}\n",
                                 "fuzz.yaml");
  }();
  static const char* kNames[] = {"x.png", "x.jpg", "x.bmp", "x.jpeg"};
  const auto root = fuzz::scratch() / "folder" / "a";
  for (const char* n : kNames) std::filesystem::remove(root / n);
  if (size == 0) return 0;
  fuzz::write(std::string("folder/a/") + kNames[data[0] % 4], data + 1, size - 1);
  load(s);
#elif LOSSDOCTOR_FUZZ_FORMAT == 4  // exclude file
  fuzz::write("exclude.txt", data, size);
  static const spec::Spec s = idx_spec("images", "labels", "exclude.txt");
  load(s);
#endif
  return 0;
}
