// emrrg make-demo-data --out DIR [--n 2000] [--size 224] [--seed S] [--threads T]
// Writes the built-in phantom chest X-ray data set (PNG pairs + R2Gen-layout annotation.json,
// 70/10/20 split); see docs/DATA.md.
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "train/cli/command_registry.h"
#include "train/data/chexpert.h"
#include "train/data/demo_data.h"

namespace {

const bool registered = emrrg::cli::register_command(
    {"make-demo-data", "Render the phantom chest X-ray data set (no download needed)",
     [](CLI::App& app) -> std::function<int()> {
       auto c = std::make_shared<emrrg::data::DemoDataConfig>();
       app.add_option("--out,-o", c->out_dir, "Output directory (created)")->required();
       app.add_option("--n", c->n, "Number of studies (two views each)")->capture_default_str()->check(CLI::Range(1, 10'000'000));
       app.add_option("--size", c->size, "Image side in pixels")->capture_default_str()->check(CLI::Range(16, 4096));
       app.add_option("--seed", c->seed, "Random seed (same seed, same bytes)")->capture_default_str();
       app.add_option("--threads", c->threads, "Worker threads (0: all cores)")->capture_default_str()->check(CLI::Range(0, 1024));
       return [c] {
         const auto s = emrrg::data::make_demo_data(*c);
         std::printf("wrote %d studies (%d train, %d val, %d test) at %dx%d to %s in %.1f s\n", s.n, s.train, s.val, s.test,
                     c->size, c->size, c->out_dir.c_str(), s.seconds);
         std::printf("positive labels:");
         for (int k = 0; k < emrrg::data::kNumChexpertLabels; ++k)
           std::printf("%s %s %d", k ? "," : "", emrrg::data::kChexpertNames[k], s.label_counts[k]);
         std::printf("\n");
         return 0;
       };
     }});

}  // namespace
