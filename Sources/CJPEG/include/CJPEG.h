// CJPEG: decodes a JPEG held in memory with libjpeg(-turbo), for `JPEGDecoder` in the Continual module.
//
// Why C: libjpeg reports a fatal error by calling an error handler that must not return, so the only way back
// to the caller is longjmp to a setjmp taken before decoding. Swift cannot call setjmp (it cannot return twice),
// so the whole decode runs here and failures come back as a kind and libjpeg's own message.
//
// Exports cjpeg_decode (one call: header, colour-space choice, all scanlines) and cjpeg_release. libjpeg
// *warnings* (a truncated file, corrupt entropy-coded data) fail the decode as errors do: libjpeg would
// otherwise fill in the missing data with grey and carry on. One is let through: extraneous bytes before the
// EOI marker, junk after a complete image.

#ifndef CJPEG_H
#define CJPEG_H

#include <stddef.h>

/// Why a decode failed.
typedef enum {
    CJPEG_OK = 0,
    /// The buffer is empty (libjpeg: "Empty input file").
    CJPEG_EMPTY,
    /// The buffer does not start with a JPEG SOI marker (libjpeg: "Not a JPEG file: starts with 0x.. 0x..").
    CJPEG_NOT_JPEG,
    /// The data ended before the image did (libjpeg's warning "Premature end of JPEG file").
    CJPEG_TRUNCATED,
    /// Any other libjpeg warning: corrupt entropy-coded data, bad markers inside the scans, ...
    CJPEG_CORRUPT,
    /// Any other libjpeg error (a corrupt header, an unsupported format such as 12-bit samples), an unsupported
    /// colour space, or an output buffer that could not be allocated.
    CJPEG_ERROR,
} CJPEGFailureKind;

/// A decoded image: height rows of width pixels of `components` interleaved bytes, top row first.
/// components 3: RGB (JPEGs stored as YCbCr, RGB or grayscale, converted by libjpeg);
/// components 4: CMYK exactly as libjpeg outputs it (stored as CMYK or YCCK; Adobe files hold inverted values).
typedef struct {
    int width;
    int height;
    int components;
    /// malloc'ed, height * width * components bytes; give it back with cjpeg_release.
    unsigned char *pixels;
} CJPEGImage;

/// Message buffer size: libjpeg's JMSG_LENGTH_MAX.
#define CJPEG_MESSAGE_LENGTH 200

/// Decodes `size` bytes at `data` into `image`. Returns CJPEG_OK, or the failure's kind with a NUL-terminated
/// message in `message` (libjpeg's own text where libjpeg failed) and `image->pixels` NULL.
CJPEGFailureKind cjpeg_decode(const unsigned char *data, size_t size, CJPEGImage *image,
                              char message[CJPEG_MESSAGE_LENGTH]);

/// Frees the pixels of a decoded image (NULL is fine).
void cjpeg_release(CJPEGImage *image);

#endif
