#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <stdexcept>

namespace db {

class Connection;

class ConnectionPool {
 public:
  explicit ConnectionPool(std::size_t max_size) : max_size_(max_size) {}

  std::shared_ptr<Connection> acquire(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, timeout, [this] { return !idle_.empty() || in_use_ < max_size_; })) {
      throw std::runtime_error("connection pool exhausted");
    }
    std::shared_ptr<Connection> conn;
    if (!idle_.empty()) {
      conn = idle_.front();
      idle_.pop_front();
    } else {
      conn = open_connection();
    }
    ++in_use_;
    return std::shared_ptr<Connection>(conn.get(), [this, conn](Connection*) { release(conn); });
  }

 private:
  void release(std::shared_ptr<Connection> conn) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      --in_use_;
      idle_.push_back(std::move(conn));
    }
    cv_.notify_one();
  }

  std::shared_ptr<Connection> open_connection();

  std::size_t max_size_;
  std::size_t in_use_ = 0;
  std::deque<std::shared_ptr<Connection>> idle_;
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace db
