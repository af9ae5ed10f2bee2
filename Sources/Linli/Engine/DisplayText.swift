/// Residents' text made safe to show (issue 18 item 6). The engine refuses control characters and
/// bidirectional controls in names and free texts at input, but a store written before that check, or
/// an export from elsewhere, may still hold them; whoever prints residents' text to a terminal or writes it
/// into a spreadsheet goes through these. JSON output stays exact: it escapes what it must itself.
public enum DisplayText {
    /// Text as a terminal may show it: residents' text cannot clear the screen, retitle the window or reorder
    /// what is read around it. Stores written before the input checks (or by another program) may hold such
    /// characters, so output is made safe as well: C0 controls and DEL become their control pictures (ESC is
    /// ␛, a line break ␊), C1 controls and bidirectional controls become `<U+XXXX>`. With `keepLineBreaks`, LF
    /// stays (a message of several lines). Text without them is returned as it is.
    public static func terminalSafe(_ text: String, keepLineBreaks: Bool = false) -> String {
        func unsafe(_ scalar: Unicode.Scalar) -> Bool {
            let v = scalar.value
            return (v < 0x20 && !(keepLineBreaks && v == 0x0A)) || (0x7F...0x9F).contains(v) || (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v)
        }
        guard text.unicodeScalars.contains(where: unsafe) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            guard unsafe(scalar) else { out.append(scalar); continue }
            let v = scalar.value
            if v < 0x20 {
                out.append(Unicode.Scalar(0x2400 + v)!)
            } else if v == 0x7F {
                out.append("\u{2421}")
            } else {
                let digits = String(v, radix: 16, uppercase: true)
                out.append(contentsOf: ("<U+" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits + ">").unicodeScalars)
            }
        }
        return String(out)
    }

    /// Whether a CSV cell would be taken for a formula: it starts with one of `= + - @`, TAB or CR and is not a
    /// plain number.
    public static func startsAFormula(_ text: String) -> Bool {
        guard let first = text.utf8.first, [UInt8(ascii: "="), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "@"), 0x09, 0x0D].contains(first) else {
            return false
        }
        let unsigned = text.utf8.dropFirst()
        let isNumber =
            first == UInt8(ascii: "-") && !unsigned.isEmpty && unsigned.first != UInt8(ascii: ".")
            && unsigned.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: ".") } && unsigned.filter { $0 == UInt8(ascii: ".") }.count <= 1
        return !isNumber
    }
}
