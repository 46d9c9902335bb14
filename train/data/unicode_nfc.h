// Unicode normalisation form C through ICU (Hugging Face's NFC normaliser).
#pragma once
#include <string>
#include <string_view>

namespace emrrg::data {

// `text` must be valid UTF-8. ASCII text is returned as it is (it is always NFC).
std::string nfc_normalize(std::string_view text);

}  // namespace emrrg::data
