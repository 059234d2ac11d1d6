// cowdb/codec.h — how element types are stored on disk (the customization point of durable
// storage).
//
// A trivially copyable T is stored as its bytes; a database records its name, size, alignment
// and the host's byte order, and reopening with another T is an error. Any other T needs a
// codec: specialize cowdb::codec<T> with
//
//   template <>
//   struct cowdb::codec<Trade> {
//     // Appends the encoding of v to *out.
//     static void encode(const Trade& v, std::string* out);
//     // Decodes one value from the front of *in and advances *in past it; std::nullopt when
//     // the bytes are not a valid encoding (the database then reports kDataLoss).
//     static std::optional<Trade> decode(std::string_view* in);
//   };
//
// decode must accept exactly what encode writes and must not read past *in: stored bytes are
// checksummed, but a codec is the last line of defence against a corrupt file. cowdb ships a
// codec for std::string (a 64-bit length, then the bytes).
//
// A type that only in-memory databases will hold says so instead of writing a codec:
//
//   template <>
//   struct cowdb::codec<Scratch> : cowdb::memory_only {};
//
// Its datasets then work in every in-memory database; a commit that would write one to a
// persistent database fails with kInvalidArgument naming the type, and writes nothing. A dataset
// element type that is neither trivially copyable nor has a codec of either kind does not
// compile: Snapshot::Get, Transaction::Get, Edit, Put and Create stop with a static_assert that
// says what to add.
//
// Thread-safety: encode and decode may be called from several threads at once.
#ifndef COWDB_CODEC_H_
#define COWDB_CODEC_H_

#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "cowdb/internal/coding.h"

namespace cowdb {

// Specialize for each element type that is not trivially copyable (see the file comment).
template <class T>
struct codec;

// T has a usable cowdb::codec<T> specialization.
template <class T>
concept has_codec = requires(const T& v, std::string* out, std::string_view* in) {
  codec<T>::encode(v, out);
  { codec<T>::decode(in) } -> std::same_as<std::optional<T>>;
};

// T can be stored by a persistent database: trivially copyable, or with a codec.
template <class T>
concept storable = std::is_trivially_copyable_v<T> || has_codec<T>;

// The base of a codec<T> specialization that declares T in-memory only (see the file comment).
struct memory_only {
  static constexpr bool kMemoryOnly = true;
};

// T's codec declares it in-memory only.
template <class T>
concept memory_only_element = requires { requires codec<T>::kMemoryOnly; };

template <>
struct codec<std::string> {
  static void encode(const std::string& v, std::string* out) {
    internal::PutFixed64(out, v.size());
    out->append(v);
  }
  static std::optional<std::string> decode(std::string_view* in) {
    if (in->size() < 8) return std::nullopt;
    const std::uint64_t n = internal::DecodeFixed64(in->data());
    if (in->size() - 8 < n) return std::nullopt;
    std::string v(in->substr(8, n));
    in->remove_prefix(8 + n);
    return v;
  }
};

}  // namespace cowdb

#endif  // COWDB_CODEC_H_
