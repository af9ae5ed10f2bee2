// The engine speaks JSON (commands, exports, queries) and stores CBOR (payloads, projection rows): both
// codecs live in LinliCodec, a module of their own with their own tests, and come with `import Linli`.
@_exported import LinliCodec
