// The registry of element types a persistent database can load (internal/db/dataset.h).
#include <map>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "cowdb/internal/db/dataset.h"

namespace cowdb::internal {
namespace {

struct Registry {
  absl::Mutex mu;
  std::map<std::string, StoredTypeLoader, std::less<>> loaders ABSL_GUARDED_BY(mu);
};

// Constructed on first use: registrations run during static initialization, in any order.
Registry& Types() {
  static Registry* const r = new Registry;  // never destroyed: used until the process ends
  return *r;
}

}  // namespace

bool RegisterStoredType(const std::string& tag, StoredTypeLoader load) {
  Registry& r = Types();
  absl::MutexLock lock(&r.mu);
  r.loaders.emplace(tag, load);
  return true;
}

StoredTypeLoader FindStoredType(std::string_view tag) {
  Registry& r = Types();
  absl::MutexLock lock(&r.mu);
  const auto it = r.loaders.find(tag);
  return it == r.loaders.end() ? nullptr : it->second;
}

}  // namespace cowdb::internal
