// fastrt/detail/retained.hpp — an owning reference to an intrusively counted
// object (anything with add_ref() / release()).
//
// Used where a reference must travel, e.g. inside a function posted to a loop:
// whether the function runs or is destroyed unrun, the reference is dropped.
#pragma once

#include <utility>

namespace fastrt::detail {

template <class T>
class retained {
 public:
  explicit retained(T* object) noexcept : object_(object) {
    if (object_) object_->add_ref();
  }
  retained(const retained& other) noexcept : retained(other.object_) {}
  retained(retained&& other) noexcept : object_(std::exchange(other.object_, nullptr)) {}
  retained& operator=(retained other) noexcept {
    std::swap(object_, other.object_);
    return *this;
  }
  ~retained() {
    if (object_) object_->release();
  }
  T* get() const noexcept { return object_; }
  T* operator->() const noexcept { return object_; }

 private:
  T* object_;
};

}  // namespace fastrt::detail
