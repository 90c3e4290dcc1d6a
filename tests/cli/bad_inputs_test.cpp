// The bad-input corpus (tests/bad_inputs/): every case runs the built CLI and must end with its
// expected exit status and message fragments, within a time limit, with no crash, no "internal
// error" and no partial output file. A case is one file; its leading comment lines say how to run
// it (tests/bad_inputs/README.md):
//
//   # argv: validate {spec}          (default; {spec} {data} {tmp} are substituted)
//   # exit: 2
//   # expect: model.layers[0].conv2d.filters      (repeatable: all must appear)
//   # ulimit-v: 4000000              (optional: the CLI's address space in KiB, ulimit -v; for
//                                     inputs that must be refused by the memory they would need)
//
// The file itself, with {data} and {tmp} substituted, is written as {spec}. {data} is a fixture
// folder of small valid and damaged data files the test writes first (see write_fixtures).

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/shell_run.hpp"
#include "lossdoctor/data/image_io.hpp"

namespace {

namespace fs = std::filesystem;

const fs::path kCorpus = fs::path(LOSSDOCTOR_SOURCE_DIR) / "tests" / "bad_inputs";

struct Case {
  std::string name;  ///< path relative to the corpus, e.g. "spec/conv-filters-zero.yaml"
  std::string argv = "validate {spec}";
  int exit = 2;
  std::vector<std::string> expect;
  std::string ulimit_v;  ///< KiB of address space for the CLI (ulimit -v), or "" for no limit
  std::string body;
};

/// gtest prints a parameter that fails: the case's name, not 128 bytes of hex.
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

Case parse_case(const fs::path& path) {
  Case c;
  c.name = fs::relative(path, kCorpus).string();
  c.body = read_all(path);
  std::istringstream lines(c.body);
  std::string line;
  while (std::getline(lines, line) && line.rfind('#', 0) == 0) {
    auto take = [&](const std::string& key, std::string& into) {
      const std::string tag = "# " + key + ":";
      if (line.rfind(tag, 0) != 0) return false;
      into = line.substr(tag.size());
      into.erase(0, into.find_first_not_of(' '));
      return true;
    };
    std::string value;
    if (take("argv", value))
      c.argv = value;
    else if (take("exit", value))
      c.exit = std::stoi(value);
    else if (take("expect", value))
      c.expect.push_back(value);
    else if (take("ulimit-v", value))
      c.ulimit_v = value;
  }
  return c;
}

std::vector<Case> load_corpus() {
  std::vector<Case> cases;
  if (!fs::is_directory(kCorpus)) return cases;
  for (const auto& entry : fs::recursive_directory_iterator(kCorpus)) {
    const auto ext = entry.path().extension();
    if (entry.is_regular_file() && (ext == ".yaml" || ext == ".case")) {
      cases.push_back(parse_case(entry.path()));
    }
  }
  std::sort(cases.begin(), cases.end(),
            [](const Case& a, const Case& b) { return a.name < b.name; });
  return cases;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

// ---- fixtures: small valid data and damaged copies ----------------------------------------

void put_be32(std::string& v, uint32_t x) {
  for (int shift : {24, 16, 8, 0}) v.push_back(static_cast<char>((x >> shift) & 0xff));
}

std::string idx_images(uint32_t n, uint32_t h, uint32_t w, uint32_t declared_n) {
  std::string v;
  put_be32(v, 0x00000803);
  put_be32(v, declared_n);
  put_be32(v, h);
  put_be32(v, w);
  for (uint32_t i = 0; i < n * h * w; ++i) v.push_back(static_cast<char>((i * 37 + i / 64) % 251));
  return v;
}

std::string idx_labels(uint32_t n, int classes, uint32_t declared_n, int bad_at = -1) {
  std::string v;
  put_be32(v, 0x00000801);
  put_be32(v, declared_n);
  for (uint32_t i = 0; i < n; ++i) {
    v.push_back(static_cast<char>(static_cast<int>(i) == bad_at ? 200 : i % classes));
  }
  return v;
}

void write_raw(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string gzip(const std::string& bytes) {
  const fs::path tmp = fs::temp_directory_path() / ("ld-bad-gz-" + std::to_string(::getpid()));
  gzFile f = gzopen(tmp.c_str(), "wb");
  if (!bytes.empty()) gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
  std::string out = read_all(tmp);
  fs::remove(tmp);
  return out;
}

/// A valid gzip file of `prefix` followed by `zeros` zero bytes, built without compressing them:
/// one fully flushed deflate block of 1 MiB of zeros (it refers to nothing before it) repeated,
/// then an empty final block, and the trailer's CRC-32 combined from the pieces. A plausible
/// gzip bomb in milliseconds.
std::string gzip_with_zeros(const std::string& prefix, uint64_t zeros) {
  constexpr uLong kChunk = 1 << 20;
  auto deflate_raw = [](const std::string& in, int flush) {
    z_stream z{};
    deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY);
    std::string out(deflateBound(&z, in.size()) + 64, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    deflate(&z, flush);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
  };
  const std::string head = deflate_raw(prefix, Z_FULL_FLUSH);
  const std::string block = deflate_raw(std::string(kChunk, '\0'), Z_FULL_FLUSH);
  const std::string tail = deflate_raw(std::string(zeros % kChunk, '\0'), Z_FINISH);
  const uLong chunk_crc =
      crc32(0, reinterpret_cast<const Bytef*>(std::string(kChunk, '\0').data()), kChunk);
  uLong crc =
      crc32(0, reinterpret_cast<const Bytef*>(prefix.data()), static_cast<uInt>(prefix.size()));
  std::string out("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10);
  out += head;
  for (uint64_t i = 0; i < zeros / kChunk; ++i) {
    out += block;
    crc = crc32_combine(crc, chunk_crc, kChunk);
  }
  out += tail;
  const std::string rest(zeros % kChunk, '\0');
  crc = crc32_combine(
      crc, crc32(0, reinterpret_cast<const Bytef*>(rest.data()), static_cast<uInt>(rest.size())),
      static_cast<z_off_t>(rest.size()));
  const uint64_t total = prefix.size() + zeros;
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((total >> (8 * i)) & 0xff));
  return out;
}

void save_png(const fs::path& path, int64_t h, int64_t w, int seed) {
  auto t = at::empty({3, h, w}, at::kFloat);
  auto a = t.accessor<float, 3>();
  for (int c = 0; c < 3; ++c)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        a[c][y][x] = static_cast<float>((seed * 31 + c * 40 + y * 7 + x * 3) % 256);
  lossdoctor::data::save_image(path.string(), t);
}

/// Writes {data}: idx/ (valid and damaged IDX files, 8×8, 3 classes), cifar/, folder/ trees
/// and exclude files. Names are what the cases refer to. The two 1.3 MB plausible gzip bombs are
/// written only when `bombs` (a case that names one): every case writes its own fixtures.
void write_fixtures(const fs::path& data, bool bombs) {
  const fs::path idx = data / "idx";
  fs::create_directories(idx);
  const std::string images = idx_images(60, 8, 8, 60), labels = idx_labels(60, 3, 60);
  write_raw(idx / "train-images", images);
  write_raw(idx / "train-labels", labels);
  write_raw(idx / "val-images", idx_images(30, 8, 8, 30));
  write_raw(idx / "val-labels", idx_labels(30, 3, 30));
  write_raw(idx / "train-images.gz", gzip(images));
  write_raw(idx / "train-labels.gz", gzip(labels));
  write_raw(idx / "val-images-10x10", idx_images(30, 10, 10, 30));
  std::string flipped = gzip(images);
  flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 0x5a);
  write_raw(idx / "flipped-images.gz", flipped);
  const std::string gz = gzip(images);
  write_raw(idx / "truncated-images.gz", gz.substr(0, gz.size() / 2));
  write_raw(idx / "truncated-images", images.substr(0, 16 + 8 * 8 * 30 + 5));
  write_raw(idx / "trailing-images", images + std::string(100, '\x07'));
  write_raw(idx / "header-only-images", images.substr(0, 10));
  write_raw(idx / "empty-file", "");
  write_raw(idx / "zero-images", idx_images(0, 8, 8, 0));
  write_raw(idx / "zero-labels", idx_labels(0, 3, 0));
  write_raw(idx / "huge-count-images", idx_images(1, 8, 8, 0x7fffffff));
  std::string huge_dims;
  put_be32(huge_dims, 0x00000803);
  put_be32(huge_dims, 1000000);
  put_be32(huge_dims, 100000);
  put_be32(huge_dims, 100000);
  write_raw(idx / "huge-dims-images", huge_dims);
  // A gzip "bomb": a tiny file whose header declares 10^6 images of 1000×1000.
  write_raw(idx / "bomb-images.gz", gzip(huge_dims + std::string(1 << 20, '\0')));
  // A plausible gzip bomb: 1.3 MB that inflate to what their header declares, 20000 images of
  // 256×256 (1.3 GB; 6.6 GB once read as float32). Refused from the header, not by running out.
  if (bombs) {
    std::string plausible;
    put_be32(plausible, 0x00000803);
    put_be32(plausible, 20000);
    put_be32(plausible, 256);
    put_be32(plausible, 256);
    write_raw(idx / "plausible-bomb-images.gz",
              gzip_with_zeros(plausible, uint64_t{20000} * 256 * 256));
    write_raw(idx / "plausible-bomb-labels", idx_labels(20000, 3, 20000));
  }
  std::string bad_magic = images;
  bad_magic[3] = 0x01;
  write_raw(idx / "bad-magic-images", bad_magic);
  write_raw(idx / "labels-as-images", labels);
  write_raw(idx / "out-of-range-labels", idx_labels(60, 3, 60, 17));
  write_raw(idx / "short-labels", idx_labels(59, 3, 59));
  write_raw(idx / "truncated-labels", idx_labels(60, 3, 60).substr(0, 40));
  write_raw(idx / "text-file", "this is not an IDX file\n");

  const fs::path cifar = data / "cifar";
  fs::create_directories(cifar);
  std::string records;
  for (int r = 0; r < 20; ++r) {
    records.push_back(static_cast<char>(r % 10));
    for (int i = 0; i < 3072; ++i) records.push_back(static_cast<char>((r * 13 + i) % 256));
  }
  write_raw(cifar / "data_batch_1.bin", records);
  write_raw(cifar / "test_batch.bin", records);
  write_raw(cifar / "truncated.bin", records.substr(0, 3073 * 5 + 100));
  std::string bad_label = records;
  bad_label[3073 * 2] = static_cast<char>(42);
  write_raw(cifar / "bad-label.bin", bad_label);
  write_raw(cifar / "empty.bin", "");
  // 427000 all-zero records (class 0): valid CIFAR-10, 1.3 GB inflated from 1.3 MB.
  if (bombs) write_raw(cifar / "bomb.bin.gz", gzip_with_zeros("", uint64_t{3073} * 427000));

  const fs::path folder = data / "folder";
  for (const char* cls : {"ant", "bee"}) {
    fs::create_directories(folder / "good" / cls);
    for (int i = 0; i < 6; ++i)
      save_png(folder / "good" / cls / ("img" + std::to_string(i) + ".png"), 8, 8, i);
  }
  fs::create_directories(folder / "good-val" / "ant");
  save_png(folder / "good-val" / "ant" / "v.png", 8, 8, 3);
  fs::create_directories(folder / "val-new-class" / "wasp");
  save_png(folder / "val-new-class" / "wasp" / "v.png", 8, 8, 3);
  fs::copy(folder / "good", folder / "truncated-png", fs::copy_options::recursive);
  const std::string png = read_all(folder / "good" / "ant" / "img0.png");
  write_raw(folder / "truncated-png" / "ant" / "img0.png", png.substr(0, png.size() * 2 / 3));
  fs::copy(folder / "good", folder / "truncated-jpeg", fs::copy_options::recursive);
  const fs::path jpg = folder / "truncated-jpeg" / "bee" / "photo.jpg";
  auto big = at::rand({3, 64, 64}) * 255;
  lossdoctor::data::save_image(jpg.string(), big);
  const std::string jpeg = read_all(jpg);
  write_raw(jpg, jpeg.substr(0, jpeg.size() / 2));
  fs::copy(folder / "good", folder / "garbage-image", fs::copy_options::recursive);
  write_raw(folder / "garbage-image" / "ant" / "img0.png", "not a png at all");
  fs::copy(folder / "good", folder / "mixed-sizes", fs::copy_options::recursive);
  save_png(folder / "mixed-sizes" / "bee" / "big.png", 12, 9, 1);
  fs::create_directories(folder / "one-class" / "ant");
  save_png(folder / "one-class" / "ant" / "a.png", 8, 8, 1);
  fs::create_directories(folder / "empty-class" / "ant");
  fs::create_directories(folder / "empty-class" / "bee");
  save_png(folder / "empty-class" / "ant" / "a.png", 8, 8, 1);
  fs::create_directories(folder / "no-classes");
  fs::copy(folder / "good", folder / "symlink-loop", fs::copy_options::recursive);
  fs::create_directory_symlink("loop", folder / "symlink-loop" / "loop");

  const fs::path ex = data / "exclude";
  fs::create_directories(ex / "a-directory");
  write_raw(ex / "text.txt", "3\nseven\n");
  write_raw(ex / "negative.txt", "-1\n");
  write_raw(ex / "overflow.txt", "99999999999999999999999\n");
  write_raw(ex / "out-of-range.txt", "1000\n");
  write_raw(ex / "everything.txt", [] {
    std::string s;
    for (int i = 0; i < 60; ++i) s += std::to_string(i) + "\n";
    return s;
  }());
  write_raw(ex / "binary.txt", std::string("\x00\x01\x02\xff", 4));
}

/// Runs the CLI with a hard time limit (a hang is a failure, not a stuck test).
lossdoctor::test::ShellRun run(const std::string& args, const fs::path& cwd,
                               const std::string& ulimit_v = "") {
  // LOSSDOCTOR_CLI runs the corpus against another binary (e.g. a frozen copy).
  const char* cli = std::getenv("LOSSDOCTOR_CLI");
  return lossdoctor::test::run_shell(
      "cd '" + cwd.string() + "' && " + (ulimit_v.empty() ? "" : "ulimit -v " + ulimit_v + " && ") +
      "timeout -s KILL 120 " + (cli != nullptr ? cli : LOSSDOCTOR_CLI_PATH) + " --threads 1 " +
      args + " </dev/null");
}

class BadInput : public ::testing::TestWithParam<Case> {};

TEST_P(BadInput, EndsCleanlyWithItsMessage) {
  const Case& c = GetParam();
  const fs::path tmp =
      fs::temp_directory_path() / ("ld-bad-" + std::to_string(::getpid()) + "-" +
                                   replace_all(replace_all(c.name, "/", "_"), ".", "_"));
  fs::remove_all(tmp);
  fs::create_directories(tmp / "out");
  const fs::path data = tmp / "data";
  write_fixtures(data, c.body.find("bomb") != std::string::npos);
  auto subst = [&](const std::string& s) {
    return replace_all(replace_all(s, "{data}", data.string()), "{tmp}", tmp.string());
  };
  const fs::path spec = tmp / fs::path(c.name).filename();
  write_raw(spec, subst(c.body));
  const std::string args = replace_all(subst(c.argv), "{spec}", spec.string());

  const auto o = run(args, tmp, c.ulimit_v);
  SCOPED_TRACE("lossdoctor " + args + "\n" + o.out);
  EXPECT_FALSE(o.signalled) << "killed by a signal or the 120 s limit (exit " << o.code << ")";
  EXPECT_EQ(o.code, c.exit);
  EXPECT_EQ(o.out.find("internal error"), std::string::npos);
  for (const auto& fragment : c.expect) {
    EXPECT_NE(o.out.find(subst(fragment)), std::string::npos) << "missing: " << fragment;
  }
  // One clear message: the first line says it all (progress and warnings aside).
  if (c.exit == 2) {
    EXPECT_LT(std::count(o.out.begin(), o.out.end(), '\n'), 12) << "too many lines for one error";
  }
  // No partial output: nothing written under {tmp}/out, no temp files anywhere.
  if (c.exit != 0) {
    for (const auto& entry : fs::recursive_directory_iterator(tmp / "out")) {
      ADD_FAILURE() << "left behind: " << entry.path();
    }
  }
  for (const auto& entry : fs::directory_iterator(tmp)) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp."), std::string::npos)
        << "temp file left: " << entry.path();
  }
  std::error_code ec;
  fs::remove_all(tmp, ec);
}

std::string case_test_name(const ::testing::TestParamInfo<Case>& info) {
  std::string s;
  for (char ch : info.param.name) s += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Corpus, BadInput, ::testing::ValuesIn(load_corpus()), case_test_name);

TEST(BadInputCorpus, HasAtLeast150CasesEachWithAnExpectation) {
  const auto cases = load_corpus();
  EXPECT_GE(cases.size(), 150u);
  for (const auto& c : cases) {
    EXPECT_FALSE(c.expect.empty()) << c.name << ": no '# expect:' line";
  }
}

}  // namespace
