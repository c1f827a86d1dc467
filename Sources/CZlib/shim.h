// zlib from the system (Debian: zlib1g-dev): gzip for streamed exports.
#include <zlib.h>
