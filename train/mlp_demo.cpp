#include "train/mlp_demo.h"

#include <chrono>
#include <cmath>
#include <iomanip>
#include <ostream>

#include "models/mlp.h"
#include "ops/ops.h"
#include "runtime/profiler.h"
#include "train/optimizer.h"

namespace emrrg::train {

namespace {
constexpr int64_t kClasses = 3;

// Points along three interleaved spiral arms with Gaussian jitter; label = arm.
void make_spiral(int64_t per_class, Generator& gen, Tensor& x, Tensor& y) {
  const int64_t n = per_class * kClasses;
  const std::vector<float> noise = randn({n, 2}, 0.0, 0.2, gen).to_vector<float>();
  std::vector<float> pts(static_cast<size_t>(n * 2));
  std::vector<int64_t> labels(static_cast<size_t>(n));
  for (int64_t c = 0; c < kClasses; ++c)
    for (int64_t i = 0; i < per_class; ++i) {
      const int64_t k = c * per_class + i;
      const double r = static_cast<double>(i) / static_cast<double>(per_class);
      const double theta = c * 4.0 + 4.0 * r + noise[k * 2];
      pts[k * 2] = static_cast<float>(r * std::sin(theta));
      pts[k * 2 + 1] = static_cast<float>(r * std::cos(theta) + 0.1 * noise[k * 2 + 1]);
      labels[k] = c;
    }
  x = from_vector(pts, {n, 2});
  y = from_vector(labels, {n});
}
}  // namespace

MlpDemoResult run_mlp_demo(const MlpDemoOptions& o, std::ostream& log) {
  Generator gen(o.seed);
  Tensor x, y;
  make_spiral(o.points_per_class, gen, x, y);
  models::MLP model(2, o.hidden, kClasses, gen);
  model.to(o.device);
  x = to_device(x, o.device);
  y = to_device(y, o.device);
  AdamW opt(model.trainable_parameters(), {o.lr, 0.9, 0.999, 1e-8, 1e-4});
  log << "demo: MLP 2-" << o.hidden << "-" << kClasses << " (" << model.num_parameters() << " parameters) on "
      << x.shape()[0] << " spiral points on " << o.device.str() << ", AdamW lr " << o.lr << ", " << o.steps
      << " steps\n";
  MlpDemoResult result;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t step = 1; step <= o.steps; ++step) {
    Tensor loss;
    {
      const profiler::Range phase("forward", "phase");
      loss = cross_entropy(model.forward(x), y);
    }
    {
      const profiler::Range phase("backward", "phase");
      opt.zero_grad();
      autograd::backward(loss);
    }
    {
      const profiler::Range phase("optimizer", "phase");
      opt.step();
    }
    result.losses.push_back(loss.item());
    if (o.profile) o.profile->step();
    if (step % o.log_every == 0 || step == 1 || step == o.steps) {
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const double eta = elapsed / static_cast<double>(step) * static_cast<double>(o.steps - step);
      log << "step " << std::setw(5) << step << "/" << o.steps << "  loss " << std::fixed << std::setprecision(4)
          << result.losses.back() << "  elapsed " << std::setprecision(1) << elapsed << "s  eta " << eta << "s\n"
          << std::defaultfloat;
    }
  }
  autograd::NoGradGuard no_grad;
  const std::vector<int64_t> pred = argmax(model.forward(x), 1).to_vector<int64_t>();
  const std::vector<int64_t> truth = y.to_vector<int64_t>();
  int64_t correct = 0;
  for (size_t i = 0; i < pred.size(); ++i) correct += pred[i] == truth[i];
  result.accuracy = static_cast<double>(correct) / static_cast<double>(pred.size());
  log << "demo: final loss " << std::fixed << std::setprecision(4) << result.losses.back() << ", training accuracy "
      << std::setprecision(1) << 100 * result.accuracy << "%\n" << std::defaultfloat << std::setprecision(6);
  return result;
}

}  // namespace emrrg::train
