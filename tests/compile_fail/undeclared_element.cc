// Must NOT compile: a dataset element type that is neither storable nor declared in-memory only.
// tests/compile_fail/check.cmake compiles it and expects cowdb's static_assert message.
#include <vector>

#include "cowdb/cowdb.h"

struct Scratch {
  std::vector<int> v;
  friend bool operator==(const Scratch&, const Scratch&) = default;
};

absl::Status Use(cowdb::Transaction& t) {
  return t.Create<Scratch>("scratch", cowdb::pvec<Scratch>{});
}
