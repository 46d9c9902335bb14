// philox.h is header-only so CUDA kernels share it; this file anchors it in the library.
#include "runtime/philox.h"
