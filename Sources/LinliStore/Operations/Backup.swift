import CLMDB
import Foundation

/// What ``EventLog/backup(to:)`` wrote.
public struct BackupReport: Sendable, Equatable {
    /// The backup's folder: a store that opens as it is.
    public var path: String
    /// The last event the backup holds (the head of the snapshot it was copied from).
    public var head: LogHead
    /// How many events its chain was checked over (equal to `head.position`).
    public var eventsVerified: UInt64
    /// The size of its data file.
    public var bytes: Int
    /// False when LMDB refused to compact the copy and a plain copy was taken instead.
    public var compacted: Bool
}

extension EventLog {
    /// Copies the store into a new folder `destination`, while writers go on.
    ///
    /// The copy is one LMDB read snapshot, so it holds a prefix of the log that ends at a commit, with the
    /// projections' checkpoint of that snapshot. It is written to `destination.partial` (created with
    /// `O_EXCL`, mode 600 whatever the umask), compacted when LMDB can (else copied plainly), synced,
    /// opened read-only and its whole chain checked, and only then moved to `destination/data.mdb`
    /// (folder mode 700). A backup that fails or is killed leaves no `destination` that holds a store.
    public func backup(to destination: String) throws -> BackupReport {
        let partial = destination + ".partial"
        try BackupFiles.refuseExisting(destination, partial: partial)
        let descriptor = try BackupFiles.createPartial(partial)
        var keep = false
        defer { if !keep { unlink(partial) } }
        let compacted: Bool
        do {
            defer { close(descriptor) }
            compacted = try BackupFiles.copy(environment, to: descriptor, partial: partial)
        }
        let verified = try BackupFiles.verify(partial)
        try BackupFiles.moveIntoPlace(partial, destination)
        keep = true
        return BackupReport(
            path: destination, head: verified.head, eventsVerified: verified.events, bytes: BackupFiles.size(destination + "/data.mdb"), compacted: compacted)
    }
}

/// The file work of a backup, each step in a function of its own.
enum BackupFiles {
    static func lastError() -> String { String(cString: strerror(errno)) }

    static func refuseExisting(_ destination: String, partial: String) throws {
        var info = stat()
        if lstat(destination, &info) == 0 {
            throw LogError.backupFailed(path: destination, reason: "it exists already; a backup never overwrites anything: name a new folder")
        }
        if lstat(partial, &info) == 0 {
            throw LogError.backupFailed(
                path: destination, reason: "\(partial) exists: another backup to it is running, or one was interrupted (then remove \(partial))")
        }
    }

    /// Creates the file the copy goes to: it must not exist (`O_EXCL`), so that two backups never share one.
    static func createPartial(_ partial: String) throws -> Int32 {
        let descriptor = open(partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw LogError.backupFailed(path: partial, reason: "cannot create it: \(lastError())") }
        return descriptor
    }

    /// Copies the snapshot into the open file, compacted when LMDB can; syncs it. Returns whether it compacted.
    static func copy(_ environment: Environment, to descriptor: Int32, partial: String) throws -> Bool {
        // The umask can only narrow the mode open() gave; fchmod makes it exactly owner-only.
        guard fchmod(descriptor, 0o600) == 0 else { throw LogError.backupFailed(path: partial, reason: "cannot make it private (mode 600): \(lastError())") }
        var compacted = true
        do {
            try environment.copy(toFileDescriptor: descriptor, compact: true)
        } catch {
            // Compaction walks the free list and refuses one that does not add up (a leaked page); a plain
            // copy of the pages is still a consistent snapshot.
            compacted = false
            guard ftruncate(descriptor, 0) == 0, lseek(descriptor, 0, SEEK_SET) == 0 else {
                throw LogError.backupFailed(path: partial, reason: "cannot empty it for a plain copy: \(lastError())")
            }
            do {
                try environment.copy(toFileDescriptor: descriptor, compact: false)
            } catch {
                throw LogError.backupFailed(
                    path: partial, reason: "LMDB could not copy the store (\(error.message)); check the free space where the backup goes")
            }
        }
        guard fsync(descriptor) == 0 else { throw LogError.backupFailed(path: partial, reason: "cannot flush it to disk: \(lastError())") }
        return compacted
    }

    /// Opens the copy read-only, without a lock file, and checks its whole chain against its stored head.
    static func verify(_ partial: String) throws -> (head: LogHead, events: UInt64) {
        var options = EventLog.Options()
        options.readOnly = true
        options.environment.noLock = true
        options.environment.noSubdirectory = true
        options.environment.initialMapSizeBytes = 1 << 20
        let copy: EventLog
        do {
            copy = try EventLog.openUnchecked(at: partial, options: options)
        } catch {
            throw LogError.backupFailed(path: partial, reason: "the copy does not open as a store (\(error))")
        }
        let report = try copy.verifyChain()
        guard report.ok else {
            let first = report.failures.first.map(String.init(describing:)) ?? ""
            throw LogError.backupFailed(
                path: partial, reason: "the copy's chain does not verify (\(first)); the store itself may be damaged: run linli audit verify")
        }
        return (report.head, report.events)
    }

    /// Makes the folder (700) and moves the verified file in as its data file, syncing both directories.
    static func moveIntoPlace(_ partial: String, _ destination: String) throws {
        guard mkdir(destination, 0o700) == 0, chmod(destination, 0o700) == 0 else {
            throw LogError.backupFailed(path: destination, reason: "cannot create the folder: \(lastError())")
        }
        guard rename(partial, destination + "/data.mdb") == 0 else {
            let reason = lastError()
            rmdir(destination)
            throw LogError.backupFailed(path: destination, reason: "cannot move the copy into the folder: \(reason)")
        }
        syncDirectory(destination)
        syncDirectory((destination as NSString).deletingLastPathComponent)
    }

    /// Flushes a directory's entries, so that a rename survives a power cut.
    static func syncDirectory(_ path: String) {
        let descriptor = open(path.isEmpty ? "." : path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        close(descriptor)
    }

    static func size(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : 0
    }
}
