import CLMDB
import Glibc

/// An error returned by LMDB: its return code, the call that returned it, and LMDB's own text for it.
///
/// Catch a particular code with pattern matching, as with GRDB's `DatabaseError`:
/// ```swift
/// do { try env.write { … } } catch LMDBError.Code.keyExist { … }
/// ```
public struct LMDBError: Error, Sendable, Equatable, CustomStringConvertible {
    /// An LMDB return code. New codes never break a caller's `switch`: this is a struct, not an enum.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The raw `int` that LMDB (or the C library, for `errno` values) returned.
        public let rawValue: Int32

        /// Wraps a raw return code.
        public init(rawValue: Int32) { self.rawValue = rawValue }

        /// `MDB_KEYEXIST`: the key exists, or `MDB_APPEND` was given a key out of order.
        public static let keyExist = Code(rawValue: MDB_KEYEXIST)
        /// `MDB_NOTFOUND`: no such key, or the end of a cursor's walk.
        public static let notFound = Code(rawValue: MDB_NOTFOUND)
        /// `MDB_MAP_FULL`: the memory map is full; the environment grows it and retries by itself.
        public static let mapFull = Code(rawValue: MDB_MAP_FULL)
        /// `MDB_MAP_RESIZED`: another process grew the map; the environment adopts the new size by itself.
        public static let mapResized = Code(rawValue: MDB_MAP_RESIZED)
        /// `MDB_READERS_FULL`: every reader slot is taken.
        public static let readersFull = Code(rawValue: MDB_READERS_FULL)
        /// `MDB_TXN_FULL`: a transaction has too many dirty pages.
        public static let transactionFull = Code(rawValue: MDB_TXN_FULL)
        /// `MDB_CORRUPTED`: a page LMDB read does not have the shape it expects.
        public static let corrupted = Code(rawValue: MDB_CORRUPTED)
        /// `MDB_INVALID`: the file is not an LMDB environment.
        public static let invalid = Code(rawValue: MDB_INVALID)
        /// `MDB_VERSION_MISMATCH`: the library and the environment disagree on LMDB's version.
        public static let versionMismatch = Code(rawValue: MDB_VERSION_MISMATCH)
        /// `MDB_DBS_FULL`: more named databases than the environment was opened for.
        public static let databasesFull = Code(rawValue: MDB_DBS_FULL)
        /// `MDB_BAD_VALSIZE`: a key is empty or longer than LMDB's maximum key size (511 bytes).
        public static let badValueSize = Code(rawValue: MDB_BAD_VALSIZE)
        /// `EACCES`: permission denied by the file system.
        public static let permissionDenied = Code(rawValue: EACCES)
        /// `ENOENT`: no such file or directory.
        public static let noSuchFile = Code(rawValue: ENOENT)
        /// `EAGAIN`/`EBUSY`: a lock is held by another process.
        public static let busy = Code(rawValue: EBUSY)

        public var description: String { String(cString: mdb_strerror(rawValue)) }
    }

    /// The return code.
    public let code: Code
    /// The LMDB call, or the wrapper's operation, that failed (for example `mdb_put(events)`).
    public let operation: String

    /// LMDB's own text for the code, from `mdb_strerror`.
    public var message: String { code.description }

    public var description: String { "LMDB \(operation) failed (\(code.rawValue)): \(message)" }

    /// What happened and what to do, for a person: no LMDB call, LMDB's own text only in brackets.
    public var forPeople: String {
        switch code {
        case .mapFull: return "the store could not grow (\(message)); check the free space of its disk, then try again"
        case .readersFull: return "too many processes are reading the store at once (\(message)); try again when some have finished"
        case .corrupted, .invalid:
            return "the store's file is damaged (\(message)); restore it from a backup (docs/OPERATIONS.md), then run `linli audit verify`"
        case .versionMismatch: return "the store was written by another version of LMDB (\(message)); open it with the Linli that wrote it"
        case .permissionDenied: return "permission denied: the store belongs to another user; run linli as its owner"
        case Code(rawValue: ENOSPC): return "the disk is full; free some space, then try again (nothing half-written was kept)"
        default: return "the store could not be read or written (\(message)); try again, and if it persists run `linli audit verify`"
        }
    }

    init(_ rawValue: Int32, _ operation: String) {
        self.code = Code(rawValue: rawValue)
        self.operation = operation
    }

}

extension LMDBError.Code {
    /// Matches an error against a code in a `catch` pattern.
    public static func ~= (code: LMDBError.Code, error: any Error) -> Bool {
        (error as? LMDBError)?.code == code
    }
}

/// Turns an LMDB return code into a thrown ``LMDBError``. Every C call is followed at once by this check.
@inline(__always)
func check(_ rc: Int32, _ operation: @autoclosure () -> String) throws(LMDBError) {
    if rc != 0 { throw LMDBError(rc, operation()) }
}
