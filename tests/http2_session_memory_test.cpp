// fastrt::http2::session_memory (<fastrt/http2/session_memory.hpp>): the
// nghttp2_mem a session allocates with. Large blocks are mapped on their own
// and given back, calloc zeroes, realloc keeps the bytes across the two
// kinds, and a real nghttp2 server session runs on it (its frame buffer mapped).
// ctest-labels: http2
#include <catch2/catch.hpp>
#include <fastrt/http2/session_memory.hpp>

#include <cstring>
#include <string>

using fastrt::http2::session_memory;

TEST_CASE("session_memory maps large blocks and frees them", "[http2][session_memory]") {
  session_memory memory;
  nghttp2_mem* mem = memory.table();
  void* small = mem->malloc(100, mem->mem_user_data);
  REQUIRE(small);
  CHECK(memory.mapped_blocks() == 0);
  void* large = mem->malloc(16 * 1024 + 10, mem->mem_user_data);
  REQUIRE(large);
  CHECK(memory.mapped_blocks() == 1);
  std::memset(large, 'x', 16 * 1024 + 10);
  mem->free(large, mem->mem_user_data);
  CHECK(memory.mapped_blocks() == 0);
  mem->free(small, mem->mem_user_data);
  mem->free(nullptr, mem->mem_user_data);
}

TEST_CASE("session_memory calloc zeroes both kinds and refuses overflow", "[http2][session_memory]") {
  session_memory memory;
  nghttp2_mem* mem = memory.table();
  for (std::size_t size : {std::size_t{64}, std::size_t{20'000}}) {
    auto* block = static_cast<unsigned char*>(mem->calloc(1, size, mem->mem_user_data));
    REQUIRE(block);
    bool zero = true;
    for (std::size_t i = 0; i < size; ++i) zero = zero && block[i] == 0;
    CHECK(zero);
    mem->free(block, mem->mem_user_data);
  }
  CHECK(mem->calloc(static_cast<std::size_t>(-1) / 2, 4, mem->mem_user_data) == nullptr);
}

TEST_CASE("session_memory realloc keeps the bytes, mapped or not", "[http2][session_memory]") {
  session_memory memory;
  nghttp2_mem* mem = memory.table();
  auto* block = static_cast<char*>(mem->realloc(nullptr, 10'000, mem->mem_user_data));  // realloc(NULL) = malloc
  REQUIRE(block);
  CHECK(memory.mapped_blocks() == 1);
  std::memcpy(block, "mapped", 6);
  block = static_cast<char*>(mem->realloc(block, 40'000, mem->mem_user_data));  // mapped → larger mapped
  REQUIRE(block);
  CHECK(std::string(block, 6) == "mapped");
  CHECK(memory.mapped_blocks() == 1);
  block = static_cast<char*>(mem->realloc(block, 16, mem->mem_user_data));  // mapped → malloc'd
  REQUIRE(block);
  CHECK(std::string(block, 6) == "mapped");
  CHECK(memory.mapped_blocks() == 0);
  mem->free(block, mem->mem_user_data);
}

TEST_CASE("an nghttp2 server session runs on session_memory, its frame buffer mapped", "[http2][session_memory]") {
  session_memory memory;
  nghttp2_session_callbacks* callbacks = nullptr;
  REQUIRE(nghttp2_session_callbacks_new(&callbacks) == 0);
  nghttp2_session* session = nullptr;
  REQUIRE(nghttp2_session_server_new3(&session, callbacks, nullptr, nullptr, memory.table()) == 0);
  nghttp2_session_callbacks_del(callbacks);
  CHECK(memory.mapped_blocks() >= 1);  // the ~16 KiB frame buffer
  REQUIRE(nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, nullptr, 0) == 0);
  const std::uint8_t* data = nullptr;
  CHECK(nghttp2_session_mem_send(session, &data) == 9);  // an empty SETTINGS frame
  nghttp2_session_del(session);
  CHECK(memory.mapped_blocks() == 0);
}
