// Optimisers with PyTorch's update rules. Parameters are updated in place, without recording,
// in float32 (float64 for float64 parameters) and rounded back to the parameter's dtype.
#pragma once
#include <vector>

#include "runtime/tensor.h"

namespace emrrg::train {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  void zero_grad();
  double lr() const { return lr_; }
  void set_lr(double lr) { lr_ = lr; }

 protected:
  struct Group {
    std::vector<Tensor> params;
    double weight_decay;
  };
  Optimizer(double lr) : lr_(lr) {}
  std::vector<Group> groups_;
  double lr_;
};

struct SGDOptions {
  double lr = 1e-2;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;  // coupled: added to the gradient
  bool nesterov = false;
};

class SGD : public Optimizer {
 public:
  SGD(const std::vector<Tensor>& params, const SGDOptions& options);
  void step() override;

 private:
  SGDOptions options_;
  std::vector<Tensor> momentum_;  // one per parameter (undefined until first step)
};

struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;  // decoupled: p -= lr * wd * p
};

class AdamW : public Optimizer {
 public:
  AdamW(const std::vector<Tensor>& params, const AdamWOptions& options);
  // Parameters in an extra group with their own weight decay (0 for norms, A_log, D, ...).
  void add_param_group(const std::vector<Tensor>& params, double weight_decay);
  void step() override;
  int64_t steps() const { return step_; }
  // The state a checkpoint keeps: first and second moments, flat per parameter in group order
  // (write into them to restore), and the step count behind the bias corrections.
  const std::vector<Tensor>& exp_avg() const { return m_; }
  const std::vector<Tensor>& exp_avg_sq() const { return v_; }
  void set_steps(int64_t steps) { step_ = steps; }

 private:
  AdamWOptions options_;
  std::vector<Tensor> m_, v_;  // flat per parameter, in group order
  int64_t step_ = 0;
};

}  // namespace emrrg::train
