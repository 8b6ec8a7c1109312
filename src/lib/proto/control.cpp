#include "proto/control.hpp"

#include <arpa/inet.h>
#include <array>
#include <cassert>
#include <concepts>
#include <cstring>
#include <netinet/in.h>
#include <optional>
#include <type_traits>
#include <utility>

#include "util/varint.hpp"

namespace conec::proto {

namespace {

// Address family bytes on the wire (not AF_*, whose values differ per OS).
constexpr uint8_t kFamilyNone = 0;
constexpr uint8_t kFamilyV4 = 4;
constexpr uint8_t kFamilyV6 = 6;

// Wire type numbers, by variant index. Fixed forever: never renumber, only
// add (docs/protocol.md §5).
constexpr std::array<uint64_t, std::variant_size_v<ControlMessage>> kTypeNumbers = {1, 2, 3, 4,  5,  6,
                                                                                    7, 8, 9, 10, 11, 12};

constexpr std::array<std::string_view, std::variant_size_v<ControlMessage>> kNames = {
    "Hello",         "Welcome",      "Refused",      "ChannelRequest", "Introduction", "IntroductionReply",
    "ChannelJoined", "ChannelError", "ChannelClosed",  "RelayResume",  "RelayResumed",
    "PeerMoved"};

std::string count_of(size_t n, std::string_view unit) {
  return std::to_string(n) + " " + std::string(unit) + (n == 1 ? "" : "s");
}

// Appends fields; bounds are the receiver's business (see encode()).
struct Writer {
  Bytes out;

  void num(std::string_view, const uint64_t &v) {
    assert(v <= kVarintMax);
    varint_append(out, v);
  }
  void flag(std::string_view, const bool &v) { varint_append(out, v ? 1 : 0); }
  void small(std::string_view, const uint8_t &v, uint8_t) { varint_append(out, v); }
  void code(std::string_view, const RefuseCode &v) { num({}, static_cast<uint64_t>(v)); }
  void text(std::string_view, const std::string &v, size_t) { blob(as_bytes(v)); }
  void bytes(std::string_view, const Bytes &v, size_t) { blob(v); }
  void exact(std::string_view, const Bytes &v, size_t) { blob(v); }
  void addrs(std::string_view, const std::vector<SockAddr> &v, size_t) {
    varint_append(out, v.size());
    for (const auto &a : v) addr({}, a);
  }
  // Left out when empty, so a peer that predates the field reads the rest.
  void optional_addrs(std::string_view field, const std::vector<SockAddr> &v, size_t max) {
    if (!v.empty()) addrs(field, v, max);
  }
  // A list of records, each written with its own fields().
  template <class T> void list(std::string_view, const std::vector<T> &v, size_t) {
    varint_append(out, v.size());
    for (const T &element : v) fields(*this, element);
  }

  void addr(std::string_view, const SockAddr &a) {
    if (a.family() == AF_INET && a.size() >= sizeof(sockaddr_in)) {
      const auto *sin = reinterpret_cast<const sockaddr_in *>(a.get());
      out.push_back(kFamilyV4);
      raw(&sin->sin_addr, 4);
      raw(&sin->sin_port, 2); // already big endian
    } else if (a.family() == AF_INET6 && a.size() >= sizeof(sockaddr_in6)) {
      const auto *sin6 = reinterpret_cast<const sockaddr_in6 *>(a.get());
      out.push_back(kFamilyV6);
      raw(&sin6->sin6_addr, 16);
      raw(&sin6->sin6_port, 2);
    } else {
      out.push_back(kFamilyNone); // empty, or a family peers could not use anyway
    }
  }

private:
  void blob(ByteView v) {
    varint_append(out, v.size());
    out.insert(out.end(), v.begin(), v.end());
  }
  void raw(const void *p, size_t n) {
    const auto *b = static_cast<const uint8_t *>(p);
    out.insert(out.end(), b, b + n);
  }
};

// Bounded cursor over a payload. The first failure sticks: later reads
// return without touching their output or the input, so a message's decoder
// is a plain list of fields and reports only the first problem.
class Reader {
public:
  Reader(ByteView in, std::string_view message) : in_(in), message_(message) {}

  void num(std::string_view field, uint64_t &v) {
    if (auto x = varint(field)) v = *x;
  }
  void flag(std::string_view field, bool &v) {
    uint8_t x = 0;
    small(field, x, 1);
    if (ok()) v = x == 1;
  }
  void small(std::string_view field, uint8_t &v, uint8_t max) {
    auto x = varint(field);
    if (!x) return;
    if (*x > max) return void(problem(field, std::to_string(*x) + " is not in 0.." + std::to_string(max)));
    v = static_cast<uint8_t>(*x);
  }
  // Any code but 0: a later version may add refusal reasons (shown as
  // "unknown" by to_string), so they are not malformed.
  void code(std::string_view field, RefuseCode &v) {
    auto x = varint(field);
    if (!x) return;
    if (*x == 0) return void(problem(field, "refuse code 0 is not used"));
    v = static_cast<RefuseCode>(*x);
  }
  void text(std::string_view field, std::string &v, size_t max) {
    if (auto b = blob(field, max)) v.assign(as_chars(*b));
  }
  void bytes(std::string_view field, Bytes &v, size_t max) {
    if (auto b = blob(field, max)) v.assign(b->begin(), b->end());
  }
  void exact(std::string_view field, Bytes &v, size_t length) {
    auto n = varint(field);
    if (!n) return;
    if (*n != length)
      return void(problem(field, "expected " + std::to_string(length) + " bytes, got " + std::to_string(*n)));
    if (auto b = take(field, length)) v.assign(b->begin(), b->end());
  }
  void addrs(std::string_view field, std::vector<SockAddr> &v, size_t max) {
    auto n = varint(field);
    if (!n) return;
    if (*n > max)
      return void(
          problem(field, std::to_string(*n) + " addresses exceeds the maximum of " + std::to_string(max)));
    v.clear();
    for (size_t i = 0; i < *n && ok(); ++i) {
      SockAddr a;
      addr(std::string(field) + "[" + std::to_string(i) + "]", a);
      v.push_back(a);
    }
  }

  // A last field older peers do not send: absent means empty. An empty
  // list is never written, so each message keeps one encoding.
  void optional_addrs(std::string_view field, std::vector<SockAddr> &v, size_t max) {
    if (ok() && in_.empty()) return v.clear();
    addrs(field, v, max);
    if (ok() && v.empty()) problem(field, "an empty list is left out, not sent");
  }

  template <class T> void list(std::string_view field, std::vector<T> &v, size_t max) {
    auto n = varint(field);
    if (!n) return;
    if (*n > max)
      return void(problem(field, std::to_string(*n) + " entries exceeds the maximum of " + std::to_string(max)));
    v.clear();
    for (size_t i = 0; i < *n && ok(); ++i) {
      T element;
      fields(*this, element);
      v.push_back(std::move(element));
    }
  }

  void addr(std::string_view field, SockAddr &v) {
    auto family = take(field, 1);
    if (!family) return;
    if ((*family)[0] == kFamilyNone) {
      v = SockAddr();
    } else if ((*family)[0] == kFamilyV4) {
      auto b = take(field, 4 + 2);
      if (!b) return;
      sockaddr_in sin{};
      sin.sin_family = AF_INET;
      std::memcpy(&sin.sin_addr, b->data(), 4);
      std::memcpy(&sin.sin_port, b->data() + 4, 2);
      v = SockAddr(reinterpret_cast<const sockaddr *>(&sin), sizeof(sin));
    } else if ((*family)[0] == kFamilyV6) {
      auto b = take(field, 16 + 2);
      if (!b) return;
      sockaddr_in6 sin6{};
      sin6.sin6_family = AF_INET6;
      std::memcpy(&sin6.sin6_addr, b->data(), 16);
      std::memcpy(&sin6.sin6_port, b->data() + 16, 2);
      v = SockAddr(reinterpret_cast<const sockaddr *>(&sin6), sizeof(sin6));
    } else {
      problem(field, "unknown address family " + std::to_string((*family)[0]));
    }
  }

  bool ok() const { return !error_; }

  // The message if every field decoded and nothing is left over.
  Result<ControlMessage> finish(ControlMessage message) {
    if (ok() && !in_.empty()) error_ = std::string(message_) + ": " + count_of(in_.size(), "trailing byte");
    if (error_) return fail(ErrorCategory::protocol, "proto", *error_);
    return message;
  }

private:
  std::optional<uint64_t> varint(std::string_view field) {
    if (!ok()) return std::nullopt;
    auto d = varint_decode(in_);
    if (!d) return problem(field, "truncated");
    in_ = in_.subspan(d->length);
    return d->value;
  }
  std::optional<ByteView> blob(std::string_view field, size_t max) {
    auto n = varint(field);
    if (!n) return std::nullopt;
    // Check the bound before the remaining length: a huge declared length is
    // reported as too long, not as truncation.
    if (*n > max)
      return problem(field, std::to_string(*n) + " bytes exceeds the maximum of " + std::to_string(max));
    return take(field, static_cast<size_t>(*n));
  }
  std::optional<ByteView> take(std::string_view field, size_t n) {
    if (!ok()) return std::nullopt;
    if (n > in_.size())
      return problem(field,
                     "truncated: needs " + count_of(n, "byte") + ", " + std::to_string(in_.size()) + " left");
    ByteView b = in_.first(n);
    in_ = in_.subspan(n);
    return b;
  }
  // Records the first failure; returns nullopt so optional-returning reads can `return problem(...)`.
  std::nullopt_t problem(std::string_view field, const std::string &what) {
    if (!error_) error_ = std::string(message_) + ": " + std::string(field) + ": " + what;
    return std::nullopt;
  }

  ByteView in_;
  std::string_view message_;
  std::optional<std::string> error_;
};

// One list of fields per message, shared by Writer (const message) and
// Reader (mutable message), so the two directions cannot drift apart.
template <class M, class T>
concept Is = std::same_as<std::remove_const_t<M>, T>;

template <class IO, Is<Hello> M> void fields(IO &io, M &m) {
  io.num("version", m.version);
  io.text("id", m.id, kMaxIdLength);
  io.optional_addrs("local", m.local, kMaxAddresses);
}
template <class IO, Is<Welcome> M> void fields(IO &io, M &m) {
  io.text("id", m.id, kMaxIdLength);
  io.addr("observed", m.observed);
  io.num("max_message", m.max_message);
}
template <class IO, Is<Refused> M> void fields(IO &io, M &m) {
  io.code("code", m.code);
  io.text("reason", m.reason, kMaxReasonLength);
}
template <class IO, Is<ChannelRequest> M> void fields(IO &io, M &m) {
  io.num("request_id", m.request_id);
  io.text("peer", m.peer, kMaxIdLength);
}
template <class IO, Is<Introduction> M> void fields(IO &io, M &m) {
  io.num("request_id", m.request_id);
  io.num("channel_id", m.channel_id);
  io.text("peer", m.peer, kMaxIdLength);
  io.bytes("peer_certificate", m.peer_certificate, kMaxCertificateLength);
  io.small("role", m.role, 1);
  io.exact("relay_token", m.relay_token, kRelayTokenLength);
  io.addr("peer_observed", m.peer_observed);
  io.addrs("peer_local", m.peer_local, kMaxAddresses);
}
template <class IO, Is<IntroductionReply> M> void fields(IO &io, M &m) {
  io.num("channel_id", m.channel_id);
  io.flag("accept", m.accept);
  io.text("reason", m.reason, kMaxReasonLength);
}
template <class IO, Is<ChannelJoined> M> void fields(IO &io, M &m) {
  io.num("request_id", m.request_id);
  io.num("channel_id", m.channel_id);
}
template <class IO, Is<ChannelError> M> void fields(IO &io, M &m) {
  io.num("request_id", m.request_id);
  io.code("code", m.code);
  io.text("reason", m.reason, kMaxReasonLength);
}
template <class IO, Is<ChannelClosed> M> void fields(IO &io, M &m) {
  io.num("channel_id", m.channel_id);
  io.text("reason", m.reason, kMaxReasonLength);
}

template <class IO, Is<ResumedRelay> M> void fields(IO &io, M &m) {
  io.exact("relay_token", m.relay_token, kRelayTokenLength);
  io.text("peer", m.peer, kMaxIdLength);
  io.small("role", m.role, 1);
}
template <class IO, Is<RelayResume> M> void fields(IO &io, M &m) {
  io.list("relays", m.relays, kMaxResumedRelays);
}
template <class IO, Is<RelayResumed> M> void fields(IO &io, M &m) {
  io.exact("relay_token", m.relay_token, kRelayTokenLength);
  io.num("channel_id", m.channel_id);
  io.flag("relaying", m.relaying);
  io.text("reason", m.reason, kMaxReasonLength);
}

template <class IO, Is<PeerMoved> M> void fields(IO &io, M &m) {
  io.num("channel_id", m.channel_id);
  io.addr("observed", m.observed);
}

template <size_t I> Result<ControlMessage> decode_as(ByteView body) {
  Reader reader(body, kNames[I]);
  std::variant_alternative_t<I, ControlMessage> message;
  fields(reader, message);
  return reader.finish(std::move(message));
}

using Decoder = Result<ControlMessage> (*)(ByteView);
constexpr auto kDecoders = []<size_t... I>(std::index_sequence<I...>) {
  return std::array<Decoder, sizeof...(I)>{&decode_as<I>...};
}
(std::make_index_sequence<std::variant_size_v<ControlMessage>>{});

} // namespace

std::string_view to_string(RefuseCode code) {
  switch (code) {
  case RefuseCode::bad_id: return "bad_id";
  case RefuseCode::id_in_use: return "id_in_use";
  case RefuseCode::not_authorized: return "not_authorized";
  case RefuseCode::limit: return "limit";
  case RefuseCode::version: return "version";
  case RefuseCode::unknown_peer: return "unknown_peer";
  case RefuseCode::peer_refused: return "peer_refused";
  case RefuseCode::timeout: return "timeout";
  case RefuseCode::protocol: return "protocol";
  case RefuseCode::id_bound: return "id_bound";
  }
  return "unknown"; // a value cast from outside the enum
}

Bytes encode(const ControlMessage &message) {
  Writer writer;
  varint_append(writer.out, type_number(message));
  std::visit([&](const auto &m) { fields(writer, m); }, message);
  return std::move(writer.out);
}

Result<ControlMessage> decode(ByteView payload) {
  if (payload.size() > kMaxControlMessage)
    return fail(ErrorCategory::protocol, "proto",
                "control message of " + std::to_string(payload.size()) + " bytes exceeds the maximum of " +
                    std::to_string(kMaxControlMessage));
  auto type = varint_decode(payload);
  if (!type) return fail(ErrorCategory::protocol, "proto", "control message: type: truncated");
  for (size_t i = 0; i < kTypeNumbers.size(); ++i)
    if (kTypeNumbers[i] == type->value) return kDecoders[i](payload.subspan(type->length));
  return fail(Error{ErrorCategory::protocol, kUnknownControlType, "proto",
                    "unknown control message type " + std::to_string(type->value)});
}

uint64_t type_number(const ControlMessage &message) { return kTypeNumbers[message.index()]; }

std::string_view message_name(const ControlMessage &message) { return kNames[message.index()]; }

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(id.front())) return false;
  for (char c : id)
    if (!alnum(c) && c != '.' && c != '_' && c != '-') return false;
  return true;
}

std::string canonical_id(std::string_view id) {
  std::string out(id);
  // ASCII only, independent of the locale: ids are ASCII when valid, and
  // bytes >= 0x80 must not change meaning between machines.
  for (char &c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool bindable_id(std::string_view id) { return canonical_id(id).rfind(kUnboundIdPrefix, 0) != 0; }

} // namespace conec::proto
