#include "train/image_encoding.h"

#include <algorithm>
#include <stdexcept>

#include "autograd/tape.h"
#include "train/data/image_io.h"
#include "train/data/image_transform.h"

namespace emrrg::train {

Tensor encode_image_files(models::VisionMamba& encoder, const std::vector<std::string>& paths, int64_t batch_size) {
  const models::VisionMambaConfig& c = encoder.config();
  if (c.channels != 3)
    throw std::invalid_argument("encode_image_files: the encoder takes " + std::to_string(c.channels) +
                                " channels; images are preprocessed to RGB (3)");
  if (batch_size <= 0) throw std::invalid_argument("encode_image_files: batch size must be positive");
  encoder.eval();
  autograd::NoGradGuard no_grad;
  const data::ImageTransform transform(data::ImageTransformConfig{static_cast<int>(c.image_size)});
  const Device device = encoder.parameters().front().device();
  const int64_t n = static_cast<int64_t>(paths.size());
  Tensor features = empty({n, c.num_tokens(), c.d_model});
  for (int64_t begin = 0; begin < n; begin += batch_size) {
    const int64_t count = std::min(batch_size, n - begin);
    Tensor images = empty({count, 3, c.image_size, c.image_size});  // [count, 3, size, size]
    for (int64_t i = 0; i < count; ++i)
      transform.apply(data::read_image(paths[static_cast<size_t>(begin + i)]),
                      images.data<float>() + i * static_cast<int64_t>(transform.output_size()));
    const Tensor tokens = encoder.forward(to_device(convert(images, c.dtype), device));  // [count, tokens, d_model]
    copy_into(make_view(features, {count, c.num_tokens(), c.d_model}, features.strides(),
                        begin * c.num_tokens() * c.d_model),
              tokens);
  }
  return features;
}

}  // namespace emrrg::train
