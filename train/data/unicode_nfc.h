// Unicode normalisation forms C and D through ICU (Hugging Face's NFC normaliser; the NFD step
// of BERT's accent stripping).
#pragma once
#include <string>
#include <string_view>

namespace emrrg::data {

// `text` must be valid UTF-8. ASCII text is returned as it is (it is always NFC and NFD).
std::string nfc_normalize(std::string_view text);
std::string nfd_normalize(std::string_view text);

}  // namespace emrrg::data
