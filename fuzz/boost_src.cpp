// Boost.JSON and Boost.URL compiled into the fuzz library from their sources (their documented
// header-only mode), instead of linking Debian's shared libraries, so that their parsers are
// instrumented too: coverage guides the fuzzer through the JSON and URL grammars, and ASan sees
// their memory accesses.
#include <boost/json/src.hpp>
#include <boost/url/src.hpp>
