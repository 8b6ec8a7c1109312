#pragma once
// A minimal std::expected for compilers whose libstdc++ <expected> is
// disabled: libstdc++ 12 offers it only when __cpp_concepts >= 202002L, which
// Debian's clang 14 (used for the libFuzzer build) does not claim. Only what
// conec uses is here; gcc builds never include this file (conec/error.hpp).
// Storage is a std::variant, which clang 14 handles without the conditionally
// trivial special members (P0848) that libstdc++'s expected relies on.

#include <concepts>
#include <exception>
#include <type_traits>
#include <utility>
#include <variant>

namespace conec::compat {

template <class E> class unexpected {
public:
  template <class G = E>
    requires(!std::is_same_v<std::remove_cvref_t<G>, unexpected> && std::is_constructible_v<E, G>)
  constexpr explicit unexpected(G &&e) : error_(std::forward<G>(e)) {}

  constexpr const E &error() const & { return error_; }
  constexpr E &error() & { return error_; }
  constexpr E &&error() && { return std::move(error_); }

private:
  E error_;
};
template <class E> unexpected(E) -> unexpected<E>;

struct bad_expected_access : std::exception {
  const char *what() const noexcept override { return "bad expected access"; }
};

template <class T> struct is_unexpected : std::false_type {};
template <class E> struct is_unexpected<unexpected<E>> : std::true_type {};

template <class T, class E> class expected;
template <class T> struct is_expected : std::false_type {};
template <class T, class E> struct is_expected<expected<T, E>> : std::true_type {};

template <class T, class E> class expected {
public:
  using value_type = T;
  using error_type = E;

  constexpr expected()
    requires std::is_default_constructible_v<T>
      : v_(std::in_place_index<0>) {}
  template <class U = T>
    requires(!std::is_same_v<std::remove_cvref_t<U>, expected> && !is_unexpected<std::remove_cvref_t<U>>::value &&
             !std::is_same_v<std::remove_cvref_t<U>, std::in_place_t> && std::is_constructible_v<T, U>)
  constexpr explicit(!std::is_convertible_v<U, T>) expected(U &&v) : v_(std::in_place_index<0>, std::forward<U>(v)) {}
  template <class G>
    requires std::is_constructible_v<E, const G &>
  constexpr expected(const unexpected<G> &u) : v_(std::in_place_index<1>, u.error()) {}
  template <class G>
    requires std::is_constructible_v<E, G>
  constexpr expected(unexpected<G> &&u) : v_(std::in_place_index<1>, std::move(u).error()) {}
  // From an expected of another value type (e.g. unique_ptr<Derived> -> unique_ptr<Base>).
  template <class U>
    requires(!std::is_same_v<U, T> && std::is_constructible_v<T, U>)
  constexpr expected(expected<U, E> &&o)
      : v_(o ? decltype(v_)(std::in_place_index<0>, std::move(*o)) : decltype(v_)(std::in_place_index<1>, std::move(o).error())) {}
  template <class... A>
  constexpr explicit expected(std::in_place_t, A &&...a) : v_(std::in_place_index<0>, std::forward<A>(a)...) {}

  constexpr bool has_value() const { return v_.index() == 0; }
  constexpr explicit operator bool() const { return has_value(); }

  constexpr T &operator*() & { return *std::get_if<0>(&v_); }
  constexpr const T &operator*() const & { return *std::get_if<0>(&v_); }
  constexpr T &&operator*() && { return std::move(*std::get_if<0>(&v_)); }
  constexpr T *operator->() { return std::get_if<0>(&v_); }
  constexpr const T *operator->() const { return std::get_if<0>(&v_); }
  constexpr T &value() & { return check(), **this; }
  constexpr const T &value() const & { return check(), **this; }
  constexpr T &&value() && { return check(), std::move(**this); }
  template <class U> constexpr T value_or(U &&u) const & {
    return has_value() ? **this : static_cast<T>(std::forward<U>(u));
  }

  constexpr E &error() & { return *std::get_if<1>(&v_); }
  constexpr const E &error() const & { return *std::get_if<1>(&v_); }
  constexpr E &&error() && { return std::move(*std::get_if<1>(&v_)); }

  template <class... A> T &emplace(A &&...a) { return v_.template emplace<0>(std::forward<A>(a)...); }

private:
  void check() const {
    if (!has_value()) throw bad_expected_access();
  }
  std::variant<T, E> v_;
};

template <class E> class expected<void, E> {
public:
  using value_type = void;
  using error_type = E;

  constexpr expected() = default;
  template <class G>
    requires std::is_constructible_v<E, const G &>
  constexpr expected(const unexpected<G> &u) : v_(std::in_place_index<1>, u.error()) {}
  template <class G>
    requires std::is_constructible_v<E, G>
  constexpr expected(unexpected<G> &&u) : v_(std::in_place_index<1>, std::move(u).error()) {}

  constexpr bool has_value() const { return v_.index() == 0; }
  constexpr explicit operator bool() const { return has_value(); }
  constexpr void operator*() const {}
  constexpr void value() const {
    if (!has_value()) throw bad_expected_access();
  }

  constexpr E &error() & { return *std::get_if<1>(&v_); }
  constexpr const E &error() const & { return *std::get_if<1>(&v_); }
  constexpr E &&error() && { return std::move(*std::get_if<1>(&v_)); }

private:
  std::variant<std::monostate, E> v_;
};

} // namespace conec::compat
