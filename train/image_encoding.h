// Token features of image files from a Vision Mamba encoder (what `emrrg encode` writes): each
// image is read and preprocessed as the reference does (NOTES §9, train/data/image_transform.h:
// RGB, bicubic resize to the encoder's image size, /255, ImageNet mean and std), then encoded in
// batches without autograd.
#pragma once
#include <string>
#include <vector>

#include "models/vision_mamba/vision_mamba.h"

namespace emrrg::train {

// Puts `encoder` in eval mode (no dropout) and returns all tokens of every image,
// [images, tokens, d_model] float32 on the CPU, in the order of `paths`. Errors name the file.
Tensor encode_image_files(models::VisionMamba& encoder, const std::vector<std::string>& paths, int64_t batch_size = 8);

}  // namespace emrrg::train
