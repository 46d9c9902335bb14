#include "train/data/unicode_nfc.h"

#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

namespace emrrg::data {

namespace {

void check(UErrorCode status, const char* what) {
  if (U_FAILURE(status))
    throw std::runtime_error(std::string("NFC normalisation: ") + what + ": " + u_errorName(status));
}

}  // namespace

std::string nfc_normalize(std::string_view text) {
  if (std::all_of(text.begin(), text.end(), [](char c) { return static_cast<uint8_t>(c) < 0x80; }))
    return std::string(text);
  UErrorCode status = U_ZERO_ERROR;
  const UNormalizer2* nfc = unorm2_getNFCInstance(&status);
  check(status, "ICU has no NFC data");

  int32_t utf16_len = 0;
  u_strFromUTF8(nullptr, 0, &utf16_len, text.data(), static_cast<int32_t>(text.size()), &status);
  if (status == U_BUFFER_OVERFLOW_ERROR) status = U_ZERO_ERROR;
  check(status, "UTF-8 to UTF-16");
  std::vector<UChar> utf16(static_cast<size_t>(utf16_len) + 1);
  u_strFromUTF8(utf16.data(), utf16_len + 1, nullptr, text.data(), static_cast<int32_t>(text.size()), &status);
  check(status, "UTF-8 to UTF-16");

  // NFC can grow a string (up to 3x for some compatibility cases); ask ICU for the size.
  int32_t normalized_len = unorm2_normalize(nfc, utf16.data(), utf16_len, nullptr, 0, &status);
  if (status == U_BUFFER_OVERFLOW_ERROR) status = U_ZERO_ERROR;
  check(status, "normalising");
  std::vector<UChar> normalized(static_cast<size_t>(normalized_len) + 1);
  unorm2_normalize(nfc, utf16.data(), utf16_len, normalized.data(), normalized_len + 1, &status);
  check(status, "normalising");

  int32_t utf8_len = 0;
  u_strToUTF8(nullptr, 0, &utf8_len, normalized.data(), normalized_len, &status);
  if (status == U_BUFFER_OVERFLOW_ERROR) status = U_ZERO_ERROR;
  check(status, "UTF-16 to UTF-8");
  std::string out(static_cast<size_t>(utf8_len), '\0');
  u_strToUTF8(out.data(), utf8_len, nullptr, normalized.data(), normalized_len, &status);
  // Writing exactly utf8_len bytes leaves no room for a terminator: ICU says so with a warning.
  if (status == U_STRING_NOT_TERMINATED_WARNING) status = U_ZERO_ERROR;
  check(status, "UTF-16 to UTF-8");
  return out;
}

}  // namespace emrrg::data
