/* streams_build.c -- compiles the stream-port service (src/streams/) into dmpcore.
 *
 * The top CMakeLists.txt globs library sources per module directory and src/streams/ is not
 * in its list yet; until it is, this file pulls the service's sources in. When
 * src/streams/ (all .c files) is added to DMP_LIB_SOURCES, delete this file (or the symbols are
 * defined twice). */
#include "../streams/ingest.c"
#include "../streams/ports.c"
#include "../streams/read.c"
#include "../streams/subs.c"
