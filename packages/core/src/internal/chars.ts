/**
 * Character codes and classes for the detectors, which read text with `charCodeAt` rather than patterns.
 *
 * @internal
 */

/**
 * UTF-16 code units the detectors compare against.
 *
 * @internal
 */
export const Char = {
  tab: 0x09,
  lineFeed: 0x0a,
  verticalTab: 0x0b,
  formFeed: 0x0c,
  carriageReturn: 0x0d,
  space: 0x20,
  doubleQuote: 0x22,
  percent: 0x25,
  apostrophe: 0x27,
  openParenthesis: 0x28,
  closeParenthesis: 0x29,
  asterisk: 0x2a,
  plus: 0x2b,
  hyphen: 0x2d,
  dot: 0x2e,
  slash: 0x2f,
  digit0: 0x30,
  digit9: 0x39,
  equals: 0x3d,
  upperA: 0x41,
  upperZ: 0x5a,
  underscore: 0x5f,
  backtick: 0x60,
  lowerA: 0x61,
  lowerZ: 0x7a,
  // OR-ing an ASCII letter with this gives its lower case.
  lowerCaseBit: 0x20
} as const

/**
 * Dashes NFKC leaves as they are and people type between digits: hyphen, figure dash, en dash, em dash, horizontal
 * bar, minus sign (the non-breaking hyphen becomes the hyphen in NFKC).
 *
 * @internal
 */
export const DASHES = "\u2010\u2012\u2013\u2014\u2015\u2212"

const dashCodes = new Set([...DASHES].map((c) => c.charCodeAt(0)))

/** The ASCII hyphen or one of `DASHES`. @internal */
export const isDash = (c: number): boolean => c === Char.hyphen || dashCodes.has(c)

/** The last ASCII code unit. @internal */
export const ASCII_MAX = 0x7f

/** @internal */
export const isDigit = (c: number): boolean => c >= Char.digit0 && c <= Char.digit9

/** @internal */
export const isLower = (c: number): boolean => c >= Char.lowerA && c <= Char.lowerZ

/** @internal */
export const isUpper = (c: number): boolean => c >= Char.upperA && c <= Char.upperZ

/** @internal */
export const isAlnum = (c: number): boolean => isDigit(c) || isUpper(c) || isLower(c)

/** @internal */
export const isWord = (c: number): boolean => isAlnum(c) || c === Char.underscore

/** @internal */
export const isSpace = (c: number): boolean =>
  c === Char.space || c === Char.tab || c === Char.lineFeed || c === Char.carriageReturn || c === Char.verticalTab ||
  c === Char.formFeed

/** @internal */
export const isQuote = (c: number): boolean => c === Char.doubleQuote || c === Char.apostrophe || c === Char.backtick

/** @internal */
export const isBase64Url = (c: number): boolean => isAlnum(c) || c === Char.hyphen || c === Char.underscore

/** The value of an ASCII digit. @internal */
export const digitValue = (c: number): number => c - Char.digit0

// NaN (outside the text) is never a digit or a letter, so the ends of the text count as boundaries.

/** @internal */
export const alnumAt = (text: string, i: number): boolean => isAlnum(text.charCodeAt(i))

/** @internal */
export const wordAt = (text: string, i: number): boolean => isWord(text.charCodeAt(i))

/** @internal */
export const digitAt = (text: string, i: number): boolean => isDigit(text.charCodeAt(i))
