{
  "targets": [
    {
      "target_name": "crc32c",
      "sources": ["crc32c.c"],
      "cflags": ["-O3", "-std=c11"],
      "conditions": [
        ["target_arch=='x64'", { "cflags": ["-msse4.2"] }]
      ]
    }
  ]
}
