// fastrt/python/subinterpreter_executor.hpp — run C++ callables inside Python
// interpreters on dedicated worker threads, and await their results.
//
//   fastrt::python::executor_options options;           // pinned workers: one per core
//   options.handlers = {"app.views:index"};              // imported in every interpreter
//   auto exec = fastrt::python::subinterpreter_executor::start(std::move(options));
//   auto index = (*exec)->handler_of("app.views:index").value();
//   fastrt::result<std::string> out = co_await (*exec)->submit(
//       [&](fastrt::python::call_context& py) { return py.call(index, bytes); });
//
// The facade over the pieces (one header each): call_context.hpp (what fn
// sees), job.hpp and inbox.hpp (submissions, queues, back-pressure),
// handler_registry.hpp ("module:function" -> handler), worker.hpp (threads:
// pinned own-GIL subinterpreters, pooled threads sharing K of them, main
// interpreter threads for modules that refuse subinterpreters),
// worker_load.hpp (in-flight score), submission_gate.hpp (the handshake
// with shutdown). Here: start, load, submit*, shutdown, and dispatch —
// submit(fn) gives fn to a free worker of any kind, submit_to(kind) to one
// of that kind, submit_to(kind, index) to that worker; a free worker is the
// first idle one (kinds in the order pinned, pooled, main; within a kind
// from a rotating position), else the lowest score. Inboxes are per worker
// and nothing moves between them. try_submit* never wait for room.
// submit_awaitable*/try_submit_awaitable take calls whose Python result may
// be awaitable (`async def`): those run as Tasks in the worker's asyncio
// event loop (event_loop.hpp), up to max_in_flight_per_worker at once.
// The executor's state is its gate's: starting (launching workers,
// loading handlers), accepting, closed (shutdown began: draining, then
// joined); submissions and loads outside `accepting` fail with canceled.
//
// Thread-safety: submit*/try_submit*/load from any thread, except that with
// pinned_producers == producers::one every submission to pinned workers (and
// load) must come from one thread at a time with a happens-before hand-over;
// load is not for the executor's own workers (errc::resource_deadlock_would_
// occur) and releases the caller's GIL while it waits. start/shutdown/
// destruction from a thread attached to no interpreter; shutdown may race
// other shutdowns, submissions and loads (those then fail with
// errc::canceled). Await futures from an executor (thread_pool, io thread,
// sync_wait): a coroutine awaiting from a thread without one resumes inline
// on the worker, with the worker's GIL held.
//
// Cost per call: a job (job.hpp), the choice of a worker (an acquire load per
// worker looked at — one when a worker is idle — plus a shared rotating
// counter), an inbox push (inbox.hpp), fn itself; a full inbox makes submit
// wait (back-pressure) and try_submit fail with resource_unavailable_try_again.
#pragma once

#include <Python.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "../error.hpp"
#include "../future.hpp"
#include "../result.hpp"
#include "call_context.hpp"
#include "exception.hpp"
#include "handler_registry.hpp"
#include "inbox.hpp"
#include "interpreter.hpp"
#include "job.hpp"
#include "runtime.hpp"
#include "submission_gate.hpp"
#include "worker.hpp"
#include "worker_load.hpp"

namespace fastrt::python {

struct executor_options {
  std::size_t pinned_workers = std::max(1u, std::thread::hardware_concurrency());
  std::size_t pooled_threads = 0;
  std::size_t pooled_interpreters = 1;  // used when pooled_threads > 0
  std::size_t main_workers = 0;
  producers pinned_producers = producers::many;
  std::size_t queue_capacity = 4096;  // per worker
  std::size_t batch = 64;             // jobs per GIL acquisition
  // Tasks (awaitable results, see submit_awaitable) one worker's event loop
  // runs at once; at the cap the worker refuses try_submit* (dispatch tries
  // the others; all full: resource_unavailable_try_again). Jobs already in
  // its inbox still enter its loop: the cap may be passed by up to
  // queue_capacity. Synchronous jobs do not count.
  std::size_t max_in_flight_per_worker = 256;
  // Loaded at start in every interpreter (pinned, pooled and main).
  std::vector<std::string> handlers;
  // Loaded at start on main workers only (modules refusing subinterpreters).
  std::vector<std::string> main_handlers;
};

class subinterpreter_executor {
 public:
  // Starts the workers and loads the handlers; fails with the Python error
  // text when one cannot be loaded (see import_handler for the hint about
  // modules refusing subinterpreters).
  static result<std::unique_ptr<subinterpreter_executor>> start(executor_options options) {
    if (!runtime::current()) {
      return error(std::errc::operation_not_permitted, "subinterpreter_executor::start: no fastrt::python::runtime started");
    }
    if (options.pinned_workers + options.pooled_threads + options.main_workers == 0) {
      return error(std::errc::invalid_argument, "subinterpreter_executor::start: no workers configured");
    }
    if (options.pooled_threads > 0 && options.pooled_interpreters == 0) options.pooled_interpreters = 1;
    if (options.pooled_threads == 0) options.pooled_interpreters = 0;
    options.pooled_interpreters = std::min(options.pooled_interpreters, options.pooled_threads);
    if (options.batch == 0) options.batch = 1;

    std::unique_ptr<subinterpreter_executor> exec(new subinterpreter_executor(std::move(options)));
    if (auto started = exec->launch_and_load(); !started) {
      (void)exec->shutdown();
      return std::move(started).error();
    }
    return exec;
  }

  subinterpreter_executor(const subinterpreter_executor&) = delete;
  subinterpreter_executor& operator=(const subinterpreter_executor&) = delete;
  ~subinterpreter_executor() { (void)shutdown(); }

  std::size_t workers(worker_kind kind) const noexcept { return workers_of(kind).size(); }

  // Imports and resolves "module:function" in every interpreter (or, with
  // everywhere == false, on main workers only) and returns its handle; the
  // same spec loaded twice yields the same handle. A failed first load is
  // rolled back: the interpreters where it did resolve drop their reference,
  // handler_of() does not find it and its handle (one of max_handlers) is
  // free again; the error carries the Python text of the first interpreter
  // that failed. (A failed re-load of a handler that loaded before keeps it
  // registered; interpreters where the re-load resolved use the new object.)
  // Loads are serialized. After shutdown() began: errc::canceled. Called from
  // one of this executor's workers: errc::resource_deadlock_would_occur (it
  // would wait for its own inbox).
  result<handler> load(std::string_view name, bool everywhere = true) {
    auto parsed = handler_spec::parse(name);
    if (!parsed) return std::move(parsed).error();
    if (detail::worker* self = detail::worker::current(); self != nullptr && self->owner() == this) {
      return error(std::errc::resource_deadlock_would_occur,
                   "subinterpreter_executor::load called from one of its own workers");
    }
    if (gate_.state() == detail::gate_state::closed) {
      return error(errc::canceled, "subinterpreter_executor is shut down: cannot load handlers");
    }
    if (!everywhere && main_.empty()) {
      return error(std::errc::invalid_argument, "cannot load a main-worker handler: executor_options::main_workers is 0");
    }
    auto serial = registry_.serialize_loads();
    auto reserved = registry_.reserve(name);
    if (!reserved) return std::move(reserved).error();
    const handler h = reserved->h;

    load_outcome outcome = run_everywhere(everywhere, [spec = std::move(*parsed), h](call_context& ctx) {
      const std::string where = "loading handler '" + spec.text + "' in " + to_string(ctx.kind()) +
                                " interpreter " + std::to_string(ctx.interpreter_index());
      auto object = detail::import_handler(spec, where);
      if (!object) return std::string(object.error().message());
      ctx.handlers().replace(h, *object);
      return std::string();
    });
    if (outcome.failure.empty()) {
      registry_.commit(h);
      return h;
    }
    if (reserved->fresh) {
      // Roll back: drop the references where it resolved. If the executor
      // is shutting down meanwhile, shutdown() drops them instead.
      (void)run_everywhere(everywhere, [h](call_context& ctx) {
        ctx.handlers().replace(h, nullptr);
        return std::string();
      });
      registry_.release(h);
    }
    return error(outcome.canceled ? errc::canceled : std::errc::invalid_argument, outcome.failure);
  }

  // The handle of a handler loaded at start (or by load()).
  result<handler> handler_of(std::string_view name) const { return registry_.find(name); }

  // Runs fn(call_context&) on a free worker of any kind: fn's handlers must
  // be loaded in every interpreter (executor_options::handlers, load(spec));
  // main-only handlers go through submit_to(main).
  template <class F>
  auto submit(F&& fn) {
    return submit_with(true, std::forward<F>(fn), [&](const detail::job& j) { push_to_picked(all_kinds, j); });
  }

  // Like submit, but never waits for room: when the chosen worker's inbox is
  // full, every other worker is tried once, and when every inbox is full the
  // future is already failed with resource_unavailable_try_again — for
  // callers that answer "busy" (HTTP 503) rather than queue up. After
  // shutdown(): canceled.
  template <class F>
  auto try_submit(F&& fn) {
    return try_place_among(all_kinds, detail::make_job<job_result_t<F>>(std::forward<F>(fn)));
  }

  // try_submit on the workers of `kind`.
  template <class F>
  auto try_submit_to(worker_kind kind, F&& fn) {
    return try_place_among(std::span<const worker_kind>(&kind, 1),
                           detail::make_job<job_result_t<F>>(std::forward<F>(fn)));
  }

  // For calls whose Python result may be awaitable (an `async def`
  // function's coroutine): start(ctx) -> result<PyObject*> (a new
  // reference) makes the call; finish(ctx, value) -> R converts the value
  // (borrowed), at once when it is not awaitable, else in the worker's
  // asyncio event loop once the value, run there as a Task, is done (many
  // such tasks run concurrently per worker; event_loop.hpp). An exception
  // fails the future with exception_code; `token` stopping cancels the Task,
  // and the future fails with errc::canceled. The future yields
  // ensure_result_t<R>. Never waits for room, like try_submit (a worker whose
  // loop holds max_in_flight_per_worker tasks counts as full).
  template <class Start, class Finish>
  auto try_submit_awaitable(std::stop_token token, Start&& start, Finish&& finish) {
    return try_place_among(all_kinds, make_awaitable<Start, Finish>(std::forward<Start>(start),
                                                                    std::forward<Finish>(finish), std::move(token)));
  }
  // The same, waiting for room (like submit), on worker `index` of `kind`.
  template <class Start, class Finish>
  auto submit_awaitable_to(worker_kind kind, std::size_t index, std::stop_token token, Start&& start,
                           Finish&& finish) {
    const auto& list = workers_of(kind);
    return place(index < list.size(),
                  make_awaitable<Start, Finish>(std::forward<Start>(start), std::forward<Finish>(finish),
                                                std::move(token)),
                  [&](const detail::job& j) { list[index]->push(j); });
  }

  // On a free worker of `kind`.
  template <class F>
  auto submit_to(worker_kind kind, F&& fn) {
    return submit_with(!workers_of(kind).empty(), std::forward<F>(fn), [&](const detail::job& j) {
      push_to_picked(std::span<const worker_kind>(&kind, 1), j);
    });
  }

  // On worker `index` of `kind` (its interpreter, its order).
  template <class F>
  auto submit_to(worker_kind kind, std::size_t index, F&& fn) {
    const auto& list = workers_of(kind);
    return submit_with(index < list.size(), std::forward<F>(fn), [&](const detail::job& j) { list[index]->push(j); });
  }

  // Stops accepting (later submissions fail with errc::canceled), runs what
  // is queued (failing with errc::timed_out what has not started after
  // `grace`; a running handler is not interrupted), lets the tasks of the
  // workers' event loops finish (cancelling those still running after
  // `grace`: they fail with errc::timed_out), joins the workers and
  // ends their interpreters on the calling thread or their own, releasing
  // every thread state: the runtime may then be finalized. Returns an error
  // when jobs were failed that way (or the first end() that failed; the rest
  // is cleaned up regardless). Idempotent; concurrent calls are safe (one
  // does the work).
  // Known limitation (CPython 3.12 only, not fixed): with pooled workers,
  // call shutdown() (or destroy the executor) on the thread that called
  // start(): 3.12 hangs in threading._shutdown when a pooled interpreter is
  // ended on another thread than the one that created it.
  result<void> shutdown(std::chrono::nanoseconds grace = std::chrono::nanoseconds::max()) {
    if (!gate_.close()) return {};
    crew_.set_deadline(grace);
    for (auto& w : workers_) w->close();
    for (auto& w : workers_) w->join();
    // Pooled interpreters and the main slot are cleaned up here: their
    // threads have released their states, so this thread may end them. The
    // calling thread's own main-interpreter state (if it had one before) is
    // left alone: only a state created here is released. A failing end() is
    // reported (the first one) after the rest is cleaned up.
    std::optional<error> first_failure;
    for (auto& slot : slots_) {
      if (slot->kind == worker_kind::pinned || !slot->interp) continue;
      const bool had_state = slot->interp->has_thread_state();
      {
        auto attached = slot->interp->attach();
        slot->handlers.clear();
      }
      if (slot->kind == worker_kind::main) {
        if (!had_state) slot->interp->release_thread();
      } else if (slot->owned) {
        if (auto ended = slot->owned->end(); !ended) {
          if (!first_failure) first_failure.emplace(std::move(ended).error());
          continue;  // still alive: ~interpreter tries again
        }
        slot->owned.reset();
      }
    }
    if (first_failure) return std::move(*first_failure);
    if (const std::size_t late = crew_.late(); late != 0) {
      return error(errc::timed_out, std::to_string(late) +
                                        " job(s) failed: the shutdown deadline passed before they started (or, "
                                        "awaited in an event loop, finished)");
    }
    return {};
  }

 private:
  using worker = detail::worker;

  static constexpr std::array<worker_kind, 3> all_kinds{worker_kind::pinned, worker_kind::pooled, worker_kind::main};

  explicit subinterpreter_executor(executor_options options)
      : options_(std::move(options)), crew_(options_.batch) {}

  const std::vector<worker*>& workers_of(worker_kind kind) const noexcept {
    switch (kind) {
      case worker_kind::pinned: return pinned_;
      case worker_kind::pooled: return pooled_;
      case worker_kind::main: break;
    }
    return main_;
  }

  // Dispatch: the first idle worker, kinds in the order given, each kind
  // scanned from a rotating position so that idle workers share the work;
  // when none is idle, the lowest score (worker_load.hpp). Null when there
  // is no worker of those kinds.
  worker* pick(std::span<const worker_kind> kinds) noexcept {
    worker* best = nullptr;
    std::int64_t best_score = std::numeric_limits<std::int64_t>::max();
    detail::lazy_now now;
    for (const worker_kind kind : kinds) {
      const auto& list = workers_of(kind);
      const std::size_t n = list.size();
      if (n == 0) continue;
      const std::size_t first = n == 1 ? 0 : next_[static_cast<int>(kind)].fetch_add(1, std::memory_order_relaxed) % n;
      for (std::size_t k = 0; k < n; ++k) {
        worker* w = list[(first + k) % n];
        if (w->load().idle()) return w;
        if (const std::int64_t score = w->load().score(now); score < best_score) {
          best = w;
          best_score = score;
        }
      }
    }
    return best;
  }

  // push() to pick(kinds); submit_with has checked that there is a worker.
  void push_to_picked(std::span<const worker_kind> kinds, const detail::job& j) {
    if (worker* w = pick(kinds)) return w->push(j);
    static const error none(std::errc::invalid_argument, "subinterpreter_executor: no such worker");
    j.fail(none);
  }

  template <class Start, class Finish>
  static auto make_awaitable(Start&& start, Finish&& finish, std::stop_token token) {
    using R = ensure_result_t<std::invoke_result_t<std::decay_t<Finish>&, call_context&, PyObject*>>;
    return detail::make_awaitable_job<R>(std::forward<Start>(start), std::forward<Finish>(finish), std::move(token));
  }

  template <class T>
  awaitable_future<T> try_place_among(std::span<const worker_kind> kinds,
                                      std::pair<detail::job, awaitable_future<T>> made) {
    std::size_t total = 0, kinds_with_workers = 0;
    const char* kind_name = "";
    for (const worker_kind kind : kinds) {
      if (workers_of(kind).empty()) continue;
      total += workers_of(kind).size();
      ++kinds_with_workers;
      kind_name = to_string(kind);
    }
    return place(total != 0, std::move(made), [&](const detail::job& j) {
      worker* first = pick(kinds);  // not null: total != 0 (g++-12 warns about the null path otherwise)
      if (first != nullptr && first->offer(j)) return;
      for (const worker_kind kind : kinds) {
        for (worker* w : workers_of(kind)) {
          if (w != first && w->offer(j)) return;
        }
      }
      std::string text = "subinterpreter_executor::try_submit: all " + std::to_string(total) + " ";
      if (kinds_with_workers == 1) (text += kind_name) += " ";
      text += "workers' queues are full (or their event loops at max_in_flight_per_worker)";
      j.fail(error(std::errc::resource_unavailable_try_again, text));
    });
  }

  // What every submission shares: makes the job and its future, fails it
  // with invalid_argument when there is no target worker, else runs
  // place(job) — which queues the job or fails it — through the gate, or
  // fails it with canceled once shutdown() has begun.
  template <class F, class Place>
  auto submit_with(bool has_target, F&& fn, Place&& where) {
    return place(has_target, detail::make_job<job_result_t<F>>(std::forward<F>(fn)), std::forward<Place>(where));
  }
  template <class T, class Place>
  awaitable_future<T> place(bool has_target, std::pair<detail::job, awaitable_future<T>> made, Place&& place) {
    auto& [j, future] = made;
    if (!has_target) {
      j.fail(error(std::errc::invalid_argument, "subinterpreter_executor: no such worker"));
    } else if (!gate_.pass([&] { place(j); })) {
      j.fail(error(errc::canceled, "subinterpreter_executor is shut down: submission rejected"));
    }
    return std::move(future);
  }

  struct load_outcome {
    std::string failure;  // the first interpreter's error text; empty: success
    bool canceled = false;
  };

  // Runs fn(call_context&) -> std::string (error text, empty on success) once
  // per interpreter (everywhere == false: the main interpreter only), on a
  // worker attached to it, and waits for all of them (the caller's GIL
  // released). A job that shutdown() fails instead of running counts as
  // canceled.
  template <class F>
  load_outcome run_everywhere(bool everywhere, F fn) {
    struct state {
      std::mutex mutex;
      std::condition_variable done_cv;
      std::size_t pending = 0;
      load_outcome outcome;
    };
    // One per job: reports when the job ran, or (destroyed unrun) that it
    // was failed by shutdown.
    class ticket {
     public:
      explicit ticket(std::shared_ptr<state> s) noexcept : s_(std::move(s)) {}
      ticket(ticket&& other) noexcept : s_(std::move(other.s_)) {}
      ticket(const ticket&) = delete;
      ticket& operator=(const ticket&) = delete;
      ticket& operator=(ticket&&) = delete;
      ~ticket() {
        if (s_) finish("subinterpreter_executor shut down before a load job ran", true);
      }
      void finish(std::string failure, bool canceled) {
        std::shared_ptr<state> s = std::move(s_);
        std::lock_guard lock(s->mutex);
        if (!failure.empty() && s->outcome.failure.empty()) {
          s->outcome.failure = std::move(failure);
          s->outcome.canceled = canceled;
        }
        if (--s->pending == 0) s->done_cv.notify_all();
      }

     private:
      std::shared_ptr<state> s_;
    };

    std::vector<worker*> targets;
    for (auto& slot : slots_) {
      if (!everywhere && slot->kind != worker_kind::main) continue;
      for (auto& w : workers_) {
        if (w->slot() == slot.get()) {
          targets.push_back(w.get());
          break;
        }
      }
    }
    auto st = std::make_shared<state>();
    st->pending = targets.size();
    const bool passed = gate_.pass([&] {
      for (worker* w : targets) {
        auto job_fn = [t = ticket(st), fn](call_context& ctx) mutable { t.finish(fn(ctx), false); };
        w->push(detail::make_job<void>(std::move(job_fn)).first);
      }
    });
    if (!passed) return {"subinterpreter_executor is shut down: cannot load handlers", true};
    detail::wait_without_gil([&] {  // e.g. main: its workers need the GIL
      std::unique_lock lock(st->mutex);
      st->done_cv.wait(lock, [&] { return st->pending == 0; });
    });
    return std::move(st->outcome);
  }

  result<void> launch_and_load() {
    FASTRT_TRY(launch());
    for (const std::string& spec : options_.handlers) FASTRT_TRY(load(spec, true));
    for (const std::string& spec : options_.main_handlers) FASTRT_TRY(load(spec, false));
    return {};
  }

  // Creates interpreters and threads; waits until every pinned worker has
  // its interpreter (or one failed).
  result<void> launch() {
    const producers pinned_producers = options_.pinned_producers;
    for (std::size_t i = 0; i < options_.pinned_workers; ++i) {
      detail::interpreter_slot* slot = add_slot(worker_kind::pinned, i);
      add_worker(pinned_, worker_kind::pinned, i, slot, pinned_producers);
    }
    std::vector<detail::interpreter_slot*> pooled_slots;
    for (std::size_t k = 0; k < options_.pooled_interpreters; ++k) {
      auto created = interpreter::create();
      if (!created) return std::move(created).error();
      detail::interpreter_slot* slot = add_slot(worker_kind::pooled, k);
      slot->owned = std::move(created).value();
      slot->interp = slot->owned.get();
      pooled_slots.push_back(slot);
    }
    for (std::size_t t = 0; t < options_.pooled_threads; ++t) {
      add_worker(pooled_, worker_kind::pooled, t, pooled_slots[t % pooled_slots.size()], producers::many);
    }
    if (options_.main_workers > 0) {
      detail::interpreter_slot* slot = add_slot(worker_kind::main, 0);
      slot->interp = &interpreter::main();
      for (std::size_t m = 0; m < options_.main_workers; ++m) {
        add_worker(main_, worker_kind::main, m, slot, producers::many);
      }
    }
    for (auto& w : workers_) w->start(crew_);
    auto started = crew_.wait_started(workers_.size());
    if (started) gate_.open();
    return started;
  }

  detail::interpreter_slot* add_slot(worker_kind kind, std::size_t index) {
    auto slot = std::make_unique<detail::interpreter_slot>();
    slot->kind = kind;
    slot->index = index;
    slots_.push_back(std::move(slot));
    return slots_.back().get();
  }

  void add_worker(std::vector<worker*>& of_kind, worker_kind kind, std::size_t index, detail::interpreter_slot* slot,
                  producers who) {
    workers_.push_back(
        std::make_unique<worker>(this, kind, index, slot, who, options_.queue_capacity, options_.max_in_flight_per_worker));
    of_kind.push_back(workers_.back().get());
  }

  executor_options options_;
  // Slots before workers: a worker's destructor joins its thread, which may
  // still use its slot.
  std::vector<std::unique_ptr<detail::interpreter_slot>> slots_;
  std::vector<std::unique_ptr<worker>> workers_;
  std::vector<worker*> pinned_, pooled_, main_;
  std::array<std::atomic<std::size_t>, 3> next_{};
  detail::worker_crew crew_;
  detail::submission_gate gate_;
  handler_registry registry_;
};

}  // namespace fastrt::python
