import Foundation
@testable import Linli
import Testing

/// Issue 18 item 6: residents' text cannot reach a terminal as control sequences or a spreadsheet as a
/// formula. Input refuses control characters and bidirectional controls, naming the field; output makes
/// safe whatever a store holds anyway.
@Suite("Names and free texts: printable at input, safe at output")
struct PrintableTextTests {
    /// ESC sequences that clear the screen and retitle a window, a C1 CSI, DEL, a right-to-left override,
    /// an isolate, a line break and a carriage return: none belongs in a name.
    static let hostileNames = ["市中心\u{1B}[2J", "\u{1B}]0;PWNED\u{07}王", "a\u{9B}31m", "王\u{7F}", "invoice\u{202E}fdp.exe", "李\u{2066}x", "王\n李", "王\r李"]

    @Test("a name with a control or bidirectional character is refused, naming the field and the character; nothing is written")
    func hostileNamesRefused() throws {
        let w = try World()
        try w.setUpCommunity()
        for name in Self.hostileNames {
            let rejection = try w.refused(
                .invalidField, "resident.register", actor: "gw-1",
                [
                    ("resident", "r-9"), ("community", "jiangshan"), ("household", "h-9"),
                    ("name", .string(name)), ("birthYear", 1950),
                ])
            #expect(rejection?.field == "name", "\(name.debugDescription)")
            #expect(rejection?.message.contains("U+") == true, "\(rejection?.message ?? "")")
        }
        // A survey's free-form basic section is held to the same rule, naming the key.
        let basic = try w.refused(
            .invalidField, "elder.survey", actor: "sw-1",
            [
                ("elder", "r-1"), ("basic", ["子女": "在外地\u{1B}[8m"]), ("health", ["adl": 80]),
                ("needs", []), ("serviceWillingness", ["willing": true]), ("workWillingness", ["willing": false]),
            ])
        #expect(basic?.field == "basic.子女")
    }

    @Test("a free text keeps its line breaks and tabs and refuses the rest")
    func freeTexts() throws {
        let w = try World()
        try w.setUpCommunity()
        let propose: (String) -> [(String, JSONValue)] = { description in
            [
                ("issue", "lift"), ("community", "jiangshan"), ("scope", ["level": "community", "ref": "jiangshan"]), ("title", "加装电梯"),
                ("description", .string(description)), ("category", "facilities"), ("channel", "wechatGroup"),
            ]
        }
        let refused = try w.refused(.invalidField, "issue.propose", actor: "r-1", propose("第一行\r\n\u{1B}[2J第二行"))
        #expect(refused?.field == "description" && refused?.message.contains("U+000D") == true, "\(refused?.message ?? "")")
        try w.ok("issue.propose", actor: "r-1", propose("第一行\n第二行\t（三楼）"))
        #expect(try w.engine.issueDocument("lift")?["description"]?.stringValue == "第一行\n第二行\t（三楼）")
    }

    @Test("output: controls become visible pictures, text without them is unchanged; formulas are found, numbers are not")
    func displayText() {
        #expect(DisplayText.terminalSafe("\u{1B}[2J王秀英") == "␛[2J王秀英")
        #expect(DisplayText.terminalSafe("a\nb") == "a␊b")
        #expect(DisplayText.terminalSafe("a\nb", keepLineBreaks: true) == "a\nb")
        #expect(DisplayText.terminalSafe("invoice\u{202E}fdp\u{9B}\u{7F}") == "invoice<U+202E>fdp<U+009B>␡")
        #expect(DisplayText.terminalSafe("加装电梯 (3/4)") == "加装电梯 (3/4)")
        for formula in ["=HYPERLINK(\"http://x\",\"y\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "-", "-1-1", "-.5"] {
            #expect(DisplayText.startsAFormula(formula), "\(formula)")
        }
        for plain in ["-150", "-1.5", "150", "王秀英", "", "a=b"] { #expect(!DisplayText.startsAFormula(plain), "\(plain)") }
    }
}
