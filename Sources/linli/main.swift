import Linli
print("linli \(LinliVersion.string)")
