// Must NOT compile under the header-check flags: proves they reject RTTI.
#include <typeinfo>
struct base { virtual ~base() = default; };
inline const char* fails(const base& b) { return typeid(b).name(); }
