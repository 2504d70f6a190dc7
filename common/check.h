// Invariant checks. A failed SLUICE_CHECK is a bug in sluice: it logs and aborts.
// Never use these on input data; input errors become Status or dead letters.
// Not for SDK headers (include/sluice/).
#pragma once

#include <cstdio>
#include <cstdlib>

#define SLUICE_CHECK(cond)                                                        \
  do {                                                                            \
    if (!(cond)) {                                                                \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                               \
    }                                                                             \
  } while (0)

#ifdef NDEBUG
#define SLUICE_DCHECK(cond) \
  do {                      \
  } while (0)
#else
#define SLUICE_DCHECK(cond) SLUICE_CHECK(cond)
#endif
