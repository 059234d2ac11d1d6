// Must compile: the same type as undeclared_element.cc, declared in-memory only. Shows that the
// failure of the other file is the missing declaration and nothing else.
#include <vector>

#include "cowdb/cowdb.h"

struct Scratch {
  std::vector<int> v;
  friend bool operator==(const Scratch&, const Scratch&) = default;
};

template <>
struct cowdb::codec<Scratch> : cowdb::memory_only {};

absl::Status Use(cowdb::Transaction& t) {
  return t.Create<Scratch>("scratch", cowdb::pvec<Scratch>{});
}
