#include "CJPEG.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

/// libjpeg's error manager extended with the way back to cjpeg_decode and where the failure goes.
typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf back;
    CJPEGFailureKind kind;
    char *message;
} FailureManager;

/// Records libjpeg's current message and its kind, then jumps back to cjpeg_decode's setjmp.
static void fail(j_common_ptr cinfo, CJPEGFailureKind kind) {
    FailureManager *manager = (FailureManager *)cinfo->err;
    manager->kind = kind;
    (*cinfo->err->format_message)(cinfo, manager->message);
    longjmp(manager->back, 1);
}

/// libjpeg's error_exit: must not return.
static void on_error(j_common_ptr cinfo) {
    int code = cinfo->err->msg_code;
    fail(cinfo, code == JERR_INPUT_EMPTY ? CJPEG_EMPTY : code == JERR_NO_SOI ? CJPEG_NOT_JPEG : CJPEG_ERROR);
}

/// libjpeg's emit_message: level -1 is a warning, which fails the decode, except extraneous bytes before the EOI
/// marker (0xd9: junk after the last scan, which some cameras and editors leave; the image is complete, and
/// Pillow decodes it silently). Levels >= 0 are traces, ignored.
static void on_message(j_common_ptr cinfo, int level) {
    if (level >= 0) return;
    struct jpeg_error_mgr *err = cinfo->err;
    if (err->msg_code == JWRN_EXTRANEOUS_DATA && err->msg_parm.i[1] == 0xd9) return;
    fail(cinfo, err->msg_code == JWRN_JPEG_EOF ? CJPEG_TRUNCATED : CJPEG_CORRUPT);
}

CJPEGFailureKind cjpeg_decode(const unsigned char *data, size_t size, CJPEGImage *image,
                              char message[CJPEG_MESSAGE_LENGTH]) {
    struct jpeg_decompress_struct cinfo;
    FailureManager manager;
    memset(&cinfo, 0, sizeof cinfo);  // jpeg_destroy_decompress is safe on it even if creation fails
    image->width = image->height = image->components = 0;
    image->pixels = NULL;
    message[0] = '\0';
    cinfo.err = jpeg_std_error(&manager.pub);
    manager.pub.error_exit = on_error;
    manager.pub.emit_message = on_message;
    manager.message = message;
    if (setjmp(manager.back)) {
        jpeg_destroy_decompress(&cinfo);
        cjpeg_release(image);
        return manager.kind;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);

    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
    case JCS_YCbCr:
    case JCS_RGB:
        cinfo.out_color_space = JCS_RGB;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        cinfo.out_color_space = JCS_CMYK;
        break;
    default:
        snprintf(message, CJPEG_MESSAGE_LENGTH, "unsupported colour space (%d components, libjpeg colour space %d)",
                 cinfo.num_components, (int)cinfo.jpeg_color_space);
        jpeg_destroy_decompress(&cinfo);
        return CJPEG_ERROR;
    }
    jpeg_start_decompress(&cinfo);

    size_t stride = (size_t)cinfo.output_width * (size_t)cinfo.output_components;
    image->pixels = malloc(stride * cinfo.output_height);
    if (image->pixels == NULL) {
        snprintf(message, CJPEG_MESSAGE_LENGTH, "cannot allocate %zu bytes for %u x %u pixels",
                 stride * cinfo.output_height, cinfo.output_width, cinfo.output_height);
        jpeg_destroy_decompress(&cinfo);
        return CJPEG_ERROR;
    }
    image->width = (int)cinfo.output_width;
    image->height = (int)cinfo.output_height;
    image->components = cinfo.output_components;
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = image->pixels + stride * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    return CJPEG_OK;
}

void cjpeg_release(CJPEGImage *image) {
    free(image->pixels);
    image->pixels = NULL;
}
