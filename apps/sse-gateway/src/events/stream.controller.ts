import { Controller, Get, Headers, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { parseStreamQuery } from './stream.dto';
import { StreamService } from './stream.service';

@Controller('events')
export class StreamController {
  constructor(private readonly streams: StreamService) {}

  /** Server-Sent Events for one tenant, filtered; resumes after `Last-Event-ID` (docs/sse.md). */
  @Get('stream')
  stream(
    @Req() req: Request,
    @Res() res: Response,
    @Query() query: Record<string, unknown>,
    @Headers('authorization') authorization?: string,
    @Headers('last-event-id') lastEventId?: string,
  ): Promise<void> {
    return this.streams.open(req, res, parseStreamQuery(query), authorization, lastEventId);
  }
}
