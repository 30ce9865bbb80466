;; A hand-written WASI command agent: echoes its JSON input as {"echo":<input>}.
;; Built by scripts/build-wasm-examples.ts (wabt). Memory layout: 0..15 iovecs, 16.. scratch, 1024.. input.
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "{\"echo\":")
  (data (i32.const 32) "}")
  (data (i32.const 48) "null")

  ;; write(ptr, len) to stdout
  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))

  (func (export "_start")
    (local $total i32) (local $n i32)
    ;; read stdin into 1024.. until EOF, growing memory a page at a time when needed
    (block $done
      (loop $more
        (if (i32.gt_u (i32.add (i32.const 1024) (i32.add (local.get $total) (i32.const 4096)))
                      (i32.mul (memory.size) (i32.const 65536)))
          (then (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1)) (then unreachable))))
        (i32.store (i32.const 0) (i32.add (i32.const 1024) (local.get $total)))
        (i32.store (i32.const 4) (i32.const 4096))
        (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
        (local.set $n (i32.load (i32.const 8)))
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $total (i32.add (local.get $total) (local.get $n)))
        (br $more)))
    (call $write (i32.const 16) (i32.const 8))
    (if (i32.eqz (local.get $total))
      (then (call $write (i32.const 48) (i32.const 4)))
      (else (call $write (i32.const 1024) (local.get $total))))
    (call $write (i32.const 32) (i32.const 1))))
