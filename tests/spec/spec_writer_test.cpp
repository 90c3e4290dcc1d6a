// Tests for spec_writer: edits land with their reasons, the text reads back as the edited spec,
// flow collections stay flow, relative data paths follow the file, and bad edits are refused.

#include "lossdoctor/spec/spec_writer.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "lossdoctor/spec/spec_parser.hpp"
#include "lossdoctor/util/errors.hpp"

namespace lossdoctor::spec {
namespace {

namespace fs = std::filesystem;

class SpecWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ld-spec-writer-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_ / "specs");
    fs::create_directories(dir_ / "data");
    path_ = (dir_ / "specs" / "exp.yaml").string();
    std::ofstream(path_) << "# a comment\n"
                            "name: exp\n"
                            "data:\n"
                            "  path: ../data\n"
                            "  train: {images: a.gz, labels: b.gz}\n"
                            "  transforms:\n"
                            "    train: [{scale: 0.00392156862745098}]\n"
                            "model:\n"
                            "  layers:\n"
                            "    - conv2d: {filters: 8, kernel: 3}\n"
                            "    - relu: {}\n"
                            "    - flatten: {}\n"
                            "    - dense: {units: 10}\n"
                            "optimizer: {type: adam, lr: 1.0}\n"
                            "batch_size: 1\n";
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  std::string path_;
};

TEST_F(SpecWriterTest, EditsReadBackWithTheirReasons) {
  const std::string out = (dir_ / "specs" / "fixed.yaml").string();
  const std::string text = render_edited_spec(path_, {},
                                              {{"optimizer.lr", "0.001", "fixes lr_too_high"},
                                               {"batch_size", "32", "fixes batch_too_small"}},
                                              out);
  const Spec s = parse_spec_text(text, out);
  EXPECT_DOUBLE_EQ(s.optimizer.lr, 0.001);
  EXPECT_EQ(s.batch_size, 32);
  EXPECT_NE(text.find("fixes lr_too_high (was: 1.0)"), std::string::npos) << text;
  EXPECT_NE(text.find("fixes batch_too_small (was: 1)"), std::string::npos) << text;
  // Flow collections stay on one line; the relative path is kept in the same directory.
  EXPECT_NE(text.find("[{scale: 0.00392156862745098}]"), std::string::npos) << text;
  EXPECT_NE(text.find("path: ../data"), std::string::npos) << text;
  EXPECT_EQ(fs::path(s.data.path).lexically_normal(), (dir_ / "data").lexically_normal());
}

TEST_F(SpecWriterTest, ABlockKeyGetsTheCommentOnItsOwnLine) {
  const std::string out = (dir_ / "specs" / "fixed.yaml").string();
  const std::string text = render_edited_spec(
      path_, {}, {{"model.layers[1]", "{batchnorm: {}}", "fixes missing_normalization"}}, out);
  const Spec s = parse_spec_text(text, out);
  ASSERT_EQ(s.layers.size(), 4u);
  EXPECT_NE(text.find("fixes missing_normalization (was: {relu: {}})"), std::string::npos) << text;
}

TEST_F(SpecWriterTest, ARelativeDataPathBecomesAbsoluteElsewhere) {
  fs::create_directories(dir_ / "elsewhere");
  const std::string out = (dir_ / "elsewhere" / "fixed.yaml").string();
  const std::string text = render_edited_spec(path_, {}, {{"optimizer.lr", "0.01", "why"}}, out);
  const Spec s = parse_spec_text(text, out);
  EXPECT_EQ(fs::path(s.data.path).lexically_normal(), (dir_ / "data").lexically_normal());
  EXPECT_NE(text.find("made absolute"), std::string::npos) << text;
}

TEST_F(SpecWriterTest, OverridesOfTheOriginalRunAreKept) {
  const std::string out = (dir_ / "specs" / "fixed.yaml").string();
  const std::string text =
      render_edited_spec(path_, {"seed=7"}, {{"optimizer.lr", "0.01", "why"}}, out);
  EXPECT_EQ(parse_spec_text(text, out).seed, 7);
}

TEST_F(SpecWriterTest, AnEditThatDoesNotValidateIsRefused) {
  const std::string out = (dir_ / "specs" / "fixed.yaml").string();
  EXPECT_THROW(render_edited_spec(path_, {}, {{"optimizer.lr", "-1", "why"}}, out), SpecError);
  EXPECT_THROW(render_edited_spec(path_, {}, {{"optimizer.lrr", "0.1", "why"}}, out), SpecError);
}

}  // namespace
}  // namespace lossdoctor::spec
