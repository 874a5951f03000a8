// Boost.JSON and Boost.URL compiled into the library from their sources, which both libraries
// support in place of linking their compiled libraries ("header-only" use: include src.hpp in one
// translation unit). CMakeLists.txt adds this file under EE_BOOST_SOURCES, which the Python
// package's build sets, so that the wheel carries no dependency on Boost's shared libraries:
// Debian's static Boost archives are not position-independent and cannot go into a module.
#include <boost/json/src.hpp>
#include <boost/url/src.hpp>
