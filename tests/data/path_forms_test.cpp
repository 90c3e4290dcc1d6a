// Every documented form of a data path, resolved once, from a working directory that is not the
// spec's: relative spec + relative data.path + relative split path and exclude (these were joined
// twice: "imgs/imgs: folder not found"), absolute forms, and no data.path at all.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "data/data_test_util.hpp"
#include "lossdoctor/data/dataset.hpp"
#include "lossdoctor/data/image_io.hpp"
#include "lossdoctor/spec/spec_parser.hpp"

namespace lossdoctor::data::test {
namespace {

/// Changes the working directory for the scope of the object.
class InDirectory {
 public:
  explicit InDirectory(const fs::path& dir) : old_(fs::current_path()) { fs::current_path(dir); }
  ~InDirectory() { fs::current_path(old_); }

 private:
  fs::path old_;
};

/// dir/cfg/imgs/{train,val}/{a,b}/*.png (3 + 3 train images per class, 1 val) and an exclude
/// file listing training source index 0, both at cfg/imgs/ex.txt and cfg/ex-here.txt.
void make_tree(const fs::path& dir) {
  for (const char* split : {"train", "val"}) {
    for (const char* cls : {"a", "b"}) {
      const fs::path d = dir / "cfg" / "imgs" / split / cls;
      fs::create_directories(d);
      const int n = std::string(split) == "train" ? 3 : 1;
      for (int i = 0; i < n; ++i)
        save_image((d / ("i" + std::to_string(i) + ".png")).string(),
                   at::full({1, 4, 4}, 10.0f * (i + 1), at::kFloat));
    }
  }
  std::ofstream(dir / "cfg" / "imgs" / "ex.txt") << "0\n";
  std::ofstream(dir / "cfg" / "ex-here.txt") << "0\n";
}

const std::string kModel = "model: {layers: [flatten, {dense: {units: 2}}]}\n";

Dataset load(const std::string& spec_path, const std::string& data_yaml) {
  std::ofstream(spec_path) << kModel << data_yaml;
  const spec::Spec s = spec::parse_spec_file(spec_path);
  return load_dataset(s.data, s.seed);
}

TEST(PathForms, EveryDocumentedFormLoadsFromAnotherWorkingDirectory) {
  TempDir tmp;
  const fs::path root(tmp.str());
  make_tree(root);
  fs::create_directories(root / "elsewhere");
  const std::string abs_imgs = (root / "cfg" / "imgs").string();
  struct Form {
    std::string name, cwd, spec, data;
  };
  const std::vector<Form> forms = {
      {"relative spec, relative data.path, relative split path and exclude", ".", "cfg/s.yaml",
       "data: {format: folder, path: imgs, train: {path: train, exclude: ex.txt}, val: {path: "
       "val}}\n"},
      {"spec in the working directory", "cfg", "s.yaml",
       "data: {format: folder, path: imgs, train: {path: train, exclude: ex.txt}, val: {path: "
       "val}}\n"},
      {"from a sibling directory with ../", "elsewhere", "../cfg/s.yaml",
       "data: {format: folder, path: imgs, train: {path: train, exclude: ex.txt}, val: {path: "
       "val}}\n"},
      {"absolute data.path, relative split paths", "elsewhere", "../cfg/s.yaml",
       "data: {format: folder, path: " + abs_imgs +
           ", train: {path: train, exclude: ex.txt}, val: {path: val}}\n"},
      {"absolute split paths and exclude", ".", "cfg/s.yaml",
       "data: {format: folder, path: imgs, train: {path: " + abs_imgs +
           "/train, exclude: " + abs_imgs + "/ex.txt}, val: {path: " + abs_imgs + "/val}}\n"},
      {"no data.path: split paths relative to the spec", ".", "cfg/s.yaml",
       "data: {format: folder, train: {path: imgs/train, exclude: ex-here.txt}, val: {path: "
       "imgs/val}}\n"},
      {"data.path is the training folder itself, val carved", "elsewhere", "../cfg/s.yaml",
       "data: {format: folder, path: imgs/train, split: 0.2}\n"},
  };
  for (const auto& f : forms) {
    SCOPED_TRACE(f.name);
    InDirectory in(root / f.cwd);
    Dataset ds;
    ASSERT_NO_THROW(ds = load(f.spec, f.data));
    EXPECT_EQ(ds.class_names, (std::vector<std::string>{"a", "b"}));
    if (f.data.find("split:") == std::string::npos) {
      EXPECT_EQ(ds.train.size(), 5) << "6 training images, one excluded";
      EXPECT_EQ(ds.val.size(), 2);
    } else {
      EXPECT_EQ(ds.train.size() + ds.val.size(), 6);
    }
  }
}

TEST(PathForms, IdxAndCifarFileNamesAndTheRunDirectorysSpecLoadFromAnotherWorkingDirectory) {
  // IDX images/labels and CIFAR files are names relative to a relative data.path; the run
  // directory's spec.yaml (resolved_yaml_with_absolute_paths) loads the same data from anywhere.
  TempDir tmp;
  const fs::path root(tmp.str());
  fs::create_directories(root / "cfg" / "idx");
  fs::create_directories(root / "cfg" / "cifar");
  fs::create_directories(root / "elsewhere" / "deeper");
  std::vector<uint8_t> pixels(6 * 9, 7), labels = {0, 1, 2, 0, 1, 2};
  write_bytes((root / "cfg" / "idx" / "im.gz").string(), idx_images(6, 3, 3, pixels), true);
  write_bytes((root / "cfg" / "idx" / "lb").string(), idx_labels(labels), false);
  std::ofstream(root / "cfg" / "idx" / "ex.txt") << "5\n";
  std::vector<uint8_t> records;
  for (int r = 0; r < 4; ++r) {
    records.push_back(static_cast<uint8_t>(r % 10));
    records.insert(records.end(), 3072, static_cast<uint8_t>(r));
  }
  write_bytes((root / "cfg" / "cifar" / "b1.bin").string(), records, false);
  const std::vector<std::pair<std::string, std::string>> forms = {
      {"idx",
       "data: {format: idx, path: idx, num_classes: 3, train: {images: im.gz, labels: lb, "
       "exclude: ex.txt}, val: {images: im.gz, labels: lb}}\n"},
      {"cifar10",
       "data: {format: cifar10, path: cifar, train: {files: [b1.bin]}, val: {files: "
       "[b1.bin]}}\n"},
  };
  for (const auto& [name, data] : forms) {
    SCOPED_TRACE(name);
    std::string run_yaml;
    int64_t train_size = 0;
    {
      InDirectory in(root / "elsewhere");
      std::ofstream("../cfg/s.yaml") << kModel << data;
      const spec::Spec s = spec::parse_spec_file("../cfg/s.yaml");
      Dataset ds;
      ASSERT_NO_THROW(ds = load_dataset(s.data, s.seed));
      train_size = ds.train.size();
      EXPECT_EQ(train_size, name == "idx" ? 5 : 4);
      run_yaml = spec::resolved_yaml_with_absolute_paths(s);
    }
    InDirectory in(root / "elsewhere" / "deeper");
    const spec::Spec again = spec::parse_spec_text(run_yaml, "run/spec.yaml");
    Dataset ds;
    ASSERT_NO_THROW(ds = load_dataset(again.data, again.seed)) << run_yaml;
    EXPECT_EQ(ds.train.size(), train_size);
  }
}

}  // namespace
}  // namespace lossdoctor::data::test
