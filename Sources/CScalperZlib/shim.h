#ifndef CSCALPERZLIB_SHIM_H
#define CSCALPERZLIB_SHIM_H
#include <zlib.h>
#endif
