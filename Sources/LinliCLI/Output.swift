import Foundation
import Linli

/// How a query prints: a table for people, one JSON document, or CSV.
enum OutputFormat {
    case table, json, csv
}

/// Display width of text in a terminal: East Asian wide and full-width characters take two cells, so
/// that tables of Chinese names line up.
func displayWidth(_ text: String) -> Int {
    text.unicodeScalars.reduce(0) { width, scalar in
        let v = scalar.value
        if v < 0x20 || (0x300...0x36F).contains(v) || v == 0x200B { return width }
        let wide =
            (0x1100...0x115F).contains(v) || (0x2E80...0x303E).contains(v) || (0x3041...0x33FF).contains(v)
            || (0x3400...0x4DBF).contains(v) || (0x4E00...0x9FFF).contains(v) || (0xA000...0xA4CF).contains(v)
            || (0xAC00...0xD7A3).contains(v) || (0xF900...0xFAFF).contains(v) || (0xFE30...0xFE4F).contains(v)
            || (0xFF00...0xFF60).contains(v) || (0xFFE0...0xFFE6).contains(v) || (0x20000...0x3FFFD).contains(v)
        return width + (wide ? 2 : 1)
    }
}

extension String {
    /// The text without the spaces (and other whitespace) that end it. A regular expression did this at
    /// 87,000 instructions a line: 7 % of a time-travel view of 4,000 elders.
    var withoutTrailingWhitespace: String {
        guard let last = lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return String(self[...last])
    }
}

/// Renders rows as an aligned table with a header and a rule; every cell through ``DisplayText/terminalSafe(_:keepLineBreaks:)``.
func renderTable(_ header: [String], _ rows: [[String]], rightAligned: Set<Int> = []) -> String {
    let header = header.map { DisplayText.terminalSafe($0) }
    let rows = rows.map { $0.map { DisplayText.terminalSafe($0) } }
    var widths = header.map(displayWidth)
    for row in rows { for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], displayWidth(cell)) } }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { index, cell in
            let padding = String(repeating: " ", count: max(0, widths[index] - displayWidth(cell)))
            return rightAligned.contains(index) ? padding + cell : cell + padding
        }.joined(separator: "  ").withoutTrailingWhitespace
    }
    var out = [line(header), widths.map { String(repeating: "─", count: $0) }.joined(separator: "  ")]
    out += rows.map(line)
    return out.joined(separator: "\n") + "\n"
}

/// Renders rows as CSV (RFC 4180 quoting). A text cell that a spreadsheet would run as a formula (it starts
/// with `=`, `+`, `-`, `@`, a tab or a carriage return: OWASP's CSV injection advice) is prefixed with `'`,
/// which spreadsheets show as text; a number (`-150`, `12.5`) stays a number.
func renderCSV(_ header: [String], _ rows: [[String]]) -> String {
    func field(_ raw: String) -> String {
        let text = DisplayText.startsAFormula(raw) ? "'" + raw : raw
        return text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
            ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
    }
    return ([header] + rows).map { $0.map(field).joined(separator: ",") }.joined(separator: "\n") + "\n"
}

/// Prints a query's result in the chosen format.
func emit(_ format: OutputFormat, json: JSONValue, header: [String], rows: [[String]], rightAligned: Set<Int> = []) {
    switch format {
    case .json: print(json.text)
    case .csv: print(renderCSV(header, rows), terminator: "")
    case .table: print(renderTable(header, rows, rightAligned: rightAligned), terminator: "")
    }
}

/// Writes to standard error.
func printError(_ text: String) {
    let safe = DisplayText.terminalSafe(text, keepLineBreaks: true)
    FileHandle.standardError.write(Data((safe.hasSuffix("\n") ? safe : safe + "\n").utf8))
}
