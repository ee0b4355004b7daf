// TEMPORARY in the worktree only (not landed): mmCIF arrives with the STAR engine.
import AngpixCore
public enum MMCIFReader {
    public static func parse(_ bytes: [UInt8], path: String) throws -> AtomicModel {
        throw ModelError.notAModel(path: path, reason: "mmCIF not yet available")
    }
}
