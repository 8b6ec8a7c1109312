#pragma once
// CallDepth: counts the application callbacks running on an object, so its
// destructor can tell it is being destroyed from inside one of them.

namespace conec::api {

class CallDepth {
public:
  explicit CallDepth(int &depth) : depth_(depth) { ++depth_; }
  ~CallDepth() { --depth_; }
  CallDepth(const CallDepth &) = delete;
  CallDepth &operator=(const CallDepth &) = delete;

private:
  int &depth_;
};

} // namespace conec::api
