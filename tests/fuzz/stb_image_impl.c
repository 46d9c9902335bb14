// stb_image compiled into the image fuzz target, so the decoder itself carries coverage
// instrumentation; its symbols take precedence over Debian's uninstrumented libstb.
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
