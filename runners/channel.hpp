// A bounded channel between coroutines on one Asio event loop (asyncio.Queue's role): Boost 1.74 has no
// asio::experimental::channel.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <vector>

namespace conpar::runners {

namespace detail {

// Hands `args` to `handler` through the handler's own executor, never inline: Asio's rule for an operation that
// completes at once, so the coroutine that sent (or received) goes on first and no call stack grows.
template <class Handler, class... Args>
void complete_soon(Handler&& handler, const boost::asio::any_io_executor& fallback, Args... args) {
  const auto ex = boost::asio::get_associated_executor(handler, fallback);
  boost::asio::post(ex, [h = std::forward<Handler>(handler), ... a = std::move(args)]() mutable {
    std::move(h)(std::move(a)...);
  });
}

// A suspended send or receive: its completion handler, type-erased (the handlers of different completion tokens
// differ in type), with a work guard so that the loop does not run out of work while the operation waits.
template <class... Args>
class pending_op {
 public:
  template <class Handler>
  pending_op(Handler&& handler, const boost::asio::any_io_executor& fallback)
      : m_impl(std::make_unique<impl<std::decay_t<Handler>>>(std::forward<Handler>(handler), fallback)) {}

  void complete(Args... args) && {
    const auto op = std::move(m_impl);
    op->complete(std::move(args)...);
  }

 private:
  struct base {
    virtual ~base() = default;
    virtual void complete(Args... args) = 0;
  };
  template <class Handler>
  struct impl final : base {
    using executor = boost::asio::associated_executor_t<Handler, boost::asio::any_io_executor>;
    impl(Handler h, const boost::asio::any_io_executor& fallback)
        : handler(std::move(h)), work(boost::asio::get_associated_executor(handler, fallback)) {}
    void complete(Args... args) override {
      complete_soon(std::move(handler), work.get_executor(), std::move(args)...);
      work.reset();  // the posted handler holds the loop's work from here on
    }
    Handler handler;
    boost::asio::executor_work_guard<executor> work;
  };
  std::unique_ptr<base> m_impl;
};

}  // namespace detail

// At most `capacity` values wait in the channel. async_send completes with true once the value is in the channel
// (at once while there is room, else when a receiver makes room) or false when the channel is closed (the value is
// dropped). async_receive completes with the oldest value (at once when one waits, else when one is sent), or with
// nullopt once the channel is closed and empty: close() ends the stream after the values already in it.
// Both are Asio asynchronous operations: any completion token works. send() and receive() are the coroutine forms.
// Single-threaded: every call, and every completion, on the one thread that runs the loop; nothing is locked.
template <class T>
class channel {
 public:
  channel(boost::asio::any_io_executor ex, std::size_t capacity) : m_ex(std::move(ex)), m_slots(capacity) {
    if (capacity == 0) throw std::invalid_argument("channel: the capacity must be at least 1");
  }
  channel(const channel&) = delete;
  channel& operator=(const channel&) = delete;

  template <class CompletionToken>
  auto async_send(T value, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(bool)>(
        [this](auto handler, T v) {
          if (try_send(v)) return detail::complete_soon(std::move(handler), m_ex, true);
          if (m_closed) return detail::complete_soon(std::move(handler), m_ex, false);
          m_senders.push_back({std::move(v), send_op(std::move(handler), m_ex)});
        },
        token, std::move(value));
  }

  template <class CompletionToken>
  auto async_receive(CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::optional<T>)>(
        [this](auto handler) {
          if (m_count > 0 || m_closed) return detail::complete_soon(std::move(handler), m_ex, try_receive());
          m_receivers.emplace_back(std::move(handler), m_ex);
        },
        token);
  }

  // The coroutine forms, as asyncio.Queue's put() and get(): they suspend only when they must wait (the channel is
  // full, or empty), so a coroutine keeps the loop while it has work, and one that cannot go on yields it.
  boost::asio::awaitable<bool> send(T value) {
    if (try_send(value)) co_return true;
    co_return co_await async_send(std::move(value), boost::asio::use_awaitable);
  }
  boost::asio::awaitable<std::optional<T>> receive() {
    if (auto v = try_receive()) co_return v;
    co_return co_await async_receive(boost::asio::use_awaitable);
  }

  // Puts `value` in the channel, or hands it to a waiting receiver, if that needs no wait; false when the
  // channel is full or closed (`value` is then left as it was).
  [[nodiscard]] bool try_send(T& value) {
    if (m_closed) return false;
    if (!m_receivers.empty()) {  // a receiver waits, so the channel is empty: the value goes straight to it
      take_front(m_receivers).complete(std::optional<T>(std::move(value)));
      return true;
    }
    if (m_count == m_slots.size()) return false;
    m_slots[(m_head + m_count++) % m_slots.size()].emplace(std::move(value));
    return true;
  }

  // The oldest value, if one waits; nullopt when the channel is empty (closed or not: see closed()).
  [[nodiscard]] std::optional<T> try_receive() {
    if (m_count == 0) return std::nullopt;
    std::optional<T> out(std::in_place, std::move(*m_slots[m_head]));
    m_slots[m_head].reset();
    m_head = (m_head + 1) % m_slots.size();
    --m_count;
    if (!m_senders.empty()) {  // a sender waits, so the channel was full: its value takes the freed place
      auto [v, op] = take_front(m_senders);
      m_slots[(m_head + m_count++) % m_slots.size()].emplace(std::move(v));
      std::move(op).complete(true);
    }
    return out;
  }

  // Ends the stream: receivers get the values already in the channel, then nullopt; senders, waiting or later,
  // get false. Waiting receivers (the channel is then empty) complete at once.
  void close() {
    m_closed = true;
    while (!m_receivers.empty()) take_front(m_receivers).complete(std::nullopt);
    while (!m_senders.empty()) std::move(take_front(m_senders).op).complete(false);
  }

  [[nodiscard]] bool closed() const noexcept { return m_closed; }
  [[nodiscard]] std::size_t size() const noexcept { return m_count; }
  [[nodiscard]] std::size_t capacity() const noexcept { return m_slots.size(); }

 private:
  using send_op = detail::pending_op<bool>;
  using receive_op = detail::pending_op<std::optional<T>>;
  struct waiting_send {
    T value;
    send_op op;
  };

  template <class Op>
  static Op take_front(std::deque<Op>& q) {
    Op op = std::move(q.front());
    q.pop_front();
    return op;
  }

  boost::asio::any_io_executor m_ex;  // completes the handlers that have no executor of their own
  std::vector<std::optional<T>> m_slots;  // a ring of `capacity` places: no allocation per value
  std::size_t m_head = 0;
  std::size_t m_count = 0;
  std::deque<receive_op> m_receivers;  // waiting only while the channel is empty
  std::deque<waiting_send> m_senders;  // waiting only while the channel is full
  bool m_closed = false;
};

}  // namespace conpar::runners
