// The shim is header-only (static inline wrappers in include/CCurl.h); SwiftPM needs one C file.
#include "CCurl.h"
