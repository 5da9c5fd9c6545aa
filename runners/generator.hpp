// A lazy C++20 coroutine generator (co_yield), the C++ form of a Python generator: C++20 has no std::generator.
#pragma once

#include <concepts>
#include <cstddef>
#include <coroutine>
#include <exception>
#include <iterator>
#include <optional>
#include <utility>

namespace conpar::runners {

// generator<T> runs its body only when the next value is asked for, up to its next co_yield. It is an input
// range: iterate it once, with range-for or begin()/end(). An exception thrown by the body comes out of the
// begin() or ++ that resumed it. Destroying the generator destroys the suspended body and its locals.
// The body may not co_await: a generator is synchronous (the coro runner's stages await on the loop instead).
template <class T>
class generator {
 public:
  struct promise_type {
    std::optional<T> value;  // a copy of the last value yielded: no lifetime tied to the body's expression
    std::exception_ptr failure;

    generator get_return_object() noexcept { return generator(handle::from_promise(*this)); }
    std::suspend_always initial_suspend() noexcept { return {}; }  // lazy: nothing runs before begin()
    std::suspend_always final_suspend() noexcept { return {}; }    // the frame lives until the generator dies
    template <std::convertible_to<T> U>
    std::suspend_always yield_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
      value.emplace(std::forward<U>(v));
      return {};
    }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { failure = std::current_exception(); }
    template <class U>
    void await_transform(U&&) = delete;  // synchronous: no co_await in the body
  };

  using handle = std::coroutine_handle<promise_type>;

  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using difference_type = std::ptrdiff_t;
    using value_type = T;

    iterator() noexcept = default;
    explicit iterator(handle h) noexcept : m_h(h) {}
    [[nodiscard]] const T& operator*() const noexcept { return *m_h.promise().value; }
    [[nodiscard]] const T* operator->() const noexcept { return &*m_h.promise().value; }
    iterator& operator++() {
      resume(m_h);
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept { return it.m_h.done(); }

   private:
    handle m_h;
  };

  generator(generator&& other) noexcept : m_h(std::exchange(other.m_h, {})) {}
  generator& operator=(generator other) noexcept {
    std::swap(m_h, other.m_h);
    return *this;
  }
  ~generator() {
    if (m_h) m_h.destroy();
  }

  // Runs the body to its first co_yield (or its end). Call once.
  [[nodiscard]] iterator begin() {
    resume(m_h);
    return iterator(m_h);
  }
  [[nodiscard]] std::default_sentinel_t end() const noexcept { return {}; }

 private:
  explicit generator(handle h) noexcept : m_h(h) {}

  // Runs the body to its next co_yield or its end; rethrows what the body threw.
  static void resume(handle h) {
    h.promise().value.reset();
    h.resume();
    if (h.promise().failure) std::rethrow_exception(std::exchange(h.promise().failure, {}));
  }

  handle m_h;
};

}  // namespace conpar::runners
