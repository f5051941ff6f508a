// Must NOT compile under the header-check flags: proves they reject throw.
#include <stdexcept>
inline void fails() { throw std::runtime_error("exceptions are off"); }
