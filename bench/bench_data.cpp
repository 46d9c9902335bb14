// Data pipeline throughput: decoding + bicubic resizing of 512x512 radiographs to 224
// (images/s, one thread and through the loader's two worker threads; target >= 400 images/s
// on the 2-core machine), phantom study generation, report tokenisation.
// The images are phantom radiographs rendered at 512 and written as compressed PNG (grey and
// RGB) and JPEG into a temporary folder at start-up; no data files are needed.
#include <benchmark/benchmark.h>

#include <stb/stb_image_write.h>

#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "train/data/dataset.h"
#include "train/data/demo_data.h"
#include "train/data/image_io.h"
#include "train/data/image_resize.h"
#include "train/data/image_transform.h"
#include "train/data/loader.h"
#include "train/data/phantom_report.h"
#include "train/data/tokenizer.h"

namespace {

using namespace emrrg::data;
namespace fs = std::filesystem;

constexpr int kImages = 32;  // distinct source images per format

struct Sources {
  fs::path dir;
  std::vector<std::string> grey_png, rgb_png, grey_jpeg;  // encoded bytes
  Sources() {
    dir = fs::temp_directory_path() / ("emrrg_bench_data_" + std::to_string(::getpid()));
    fs::create_directories(dir / "images");
    nlohmann::json train = nlohmann::json::array();
    for (int i = 0; i < kImages; ++i) {
      const PhantomStudy s = make_phantom_study(123, i, 512);
      grey_png.push_back(encode_png(s.frontal));
      rgb_png.push_back(encode_png(to_rgb(s.frontal)));
      std::string jpg;
      stbi_write_jpg_to_func([](void* ctx, void* data, int n) { static_cast<std::string*>(ctx)->append(static_cast<char*>(data), n); },
                             &jpg, 512, 512, 1, s.frontal.pixels.data(), 90);
      grey_jpeg.push_back(jpg);
      std::string name = "s";
      name += std::to_string(i);
      name += ".png";
      std::ofstream(dir / "images" / name, std::ios::binary) << grey_png.back();
      std::string id = "s";
      id += std::to_string(i);
      train.push_back({{"id", id}, {"report", s.report}, {"image_path", {name}}});
    }
    std::ofstream(dir / "annotation.json") << nlohmann::json{{"train", train}}.dump();
  }
  ~Sources() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

Sources& sources() {
  static Sources s;
  return s;
}

void decode_resize(benchmark::State& state, const std::vector<std::string>& images) {
  ImageTransform tf(ImageTransformConfig{.size = 224});
  std::vector<float> out(tf.output_size());
  size_t k = 0;
  for (auto _ : state) {
    const Image img = decode_image(images[k++ % images.size()], "bench");
    tf.apply(img, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_DecodeResize512GreyPng(benchmark::State& state) { decode_resize(state, sources().grey_png); }
void BM_DecodeResize512RgbPng(benchmark::State& state) { decode_resize(state, sources().rgb_png); }
void BM_DecodeResize512GreyJpeg(benchmark::State& state) { decode_resize(state, sources().grey_jpeg); }
BENCHMARK(BM_DecodeResize512GreyPng)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DecodeResize512RgbPng)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DecodeResize512GreyJpeg)->Unit(benchmark::kMillisecond);

void BM_ResizeOnly512To224Grey(benchmark::State& state) {
  const Image img = decode_image(sources().grey_png[0], "bench");
  for (auto _ : state) benchmark::DoNotOptimize(resize_bicubic(img, 224, 224).pixels.data());
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ResizeOnly512To224Grey)->Unit(benchmark::kMillisecond);

void BM_DecodeOnly512GreyPng(benchmark::State& state) {
  size_t k = 0;
  for (auto _ : state) benchmark::DoNotOptimize(decode_image(sources().grey_png[k++ % kImages], "bench").pixels.data());
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_DecodeOnly512GreyPng)->Unit(benchmark::kMillisecond);

// The loader end to end: files read from disk, decoded, resized and normalised by N worker
// threads, batches of 8 assembled into tensors; images/s over whole epochs.
void BM_Loader512To224(benchmark::State& state) {
  auto tok = load_tokenizer(EMRRG_BENCH_TOKENIZER);
  DatasetConfig c;
  c.annotation_path = (sources().dir / "annotation.json").string();
  c.image.size = 224;
  c.cleaning = ReportCleaning::IuXray;
  ReportDataset ds(c, std::move(tok));
  LoaderConfig lc;
  lc.batch_size = 8;
  lc.num_workers = static_cast<int>(state.range(0));
  lc.prefetch = 4;
  DataLoader loader(ds, lc);
  int64_t images = 0, epoch = 0;
  // Process CPU time (all threads): on a machine shared with other jobs the wall-clock rate
  // understates what the loader does on free cores; CPU time per image does not.
  auto process_cpu = [] {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
  };
  const double cpu0 = process_cpu();
  for (auto _ : state) {
    loader.start_epoch(epoch++);
    Batch b;
    while (loader.next(b)) images += static_cast<int64_t>(b.size());
  }
  const double cpu_ms_per_image = (process_cpu() - cpu0) * 1e3 / static_cast<double>(std::max<int64_t>(images, 1));
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(images), benchmark::Counter::kIsRate);
  state.counters["cpu_ms/image"] = cpu_ms_per_image;
  state.counters["images/s on 2 free cores"] = 2000.0 / cpu_ms_per_image;
}
BENCHMARK(BM_Loader512To224)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// One phantom study: findings, report, two 224 views, two PNGs (stored deflate), as
// make-demo-data does per study.
void BM_PhantomStudy224(benchmark::State& state) {
  int i = 0;
  for (auto _ : state) {
    const PhantomStudy s = make_phantom_study(1, i++, 224);
    benchmark::DoNotOptimize(encode_png(s.frontal, PngCompression::Store).size() + encode_png(s.lateral, PngCompression::Store).size());
  }
  state.counters["studies/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PhantomStudy224)->Unit(benchmark::kMillisecond);

// make-demo-data for 200 studies at 224 with two threads (scale x10 for the 2,000-study figure).
void BM_MakeDemoData200(benchmark::State& state) {
  for (auto _ : state) {
    DemoDataConfig c;
    c.out_dir = (sources().dir / "demo").string();
    c.n = 200;
    c.size = 224;
    c.threads = 2;
    benchmark::DoNotOptimize(make_demo_data(c).n);
  }
  state.counters["studies/s"] = benchmark::Counter(200.0 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_MakeDemoData200)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);

void BM_TokenizeReports(benchmark::State& state) {
  auto tok = load_tokenizer(EMRRG_BENCH_TOKENIZER);
  std::vector<std::string> reports;
  for (int i = 0; i < 64; ++i) {
    Rng r(static_cast<uint64_t>(i));
    reports.push_back(write_phantom_report(sample_findings(r), r));
  }
  size_t k = 0;
  for (auto _ : state) benchmark::DoNotOptimize(tok->encode(reports[k++ % reports.size()]).size());
  state.counters["reports/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_TokenizeReports);

}  // namespace

BENCHMARK_MAIN();
