import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { Tenant, type TenantCtx } from '../auth/tenant.decorator';
import { ApiIdempotencyKey, Mutation, type MutationRequest } from '../http/request.decorator';
import { CreateMessageDto, ListMessagesQuery, MessageDto, MessagePageDto } from './messages.dto';
import { MessagesService } from './messages.service';

@ApiTags('messages')
@ApiBearerAuth()
@Controller('messages')
export class MessagesController {
  constructor(private readonly messages: MessagesService) {}

  @Post()
  @ApiOperation({ summary: 'Record a received message (emits message.received)' })
  @ApiIdempotencyKey()
  @ApiCreatedResponse({ type: MessageDto })
  async create(
    @Tenant() t: TenantCtx,
    @Body() body: CreateMessageDto,
    @Mutation() m: MutationRequest,
    @Res({ passthrough: true }) res: Response,
  ) {
    const outcome = await this.messages.create(t, body, m);
    res.status(outcome.status).setHeader('Location', `/messages/${outcome.body.id}`);
    if (outcome.replayed) res.setHeader('Idempotent-Replayed', 'true');
    return outcome.body;
  }

  @Get()
  @ApiOperation({ summary: "The tenant's messages, newest first" })
  @ApiOkResponse({ type: MessagePageDto })
  list(@Tenant() t: TenantCtx, @Query() q: ListMessagesQuery) {
    return this.messages.list(t, q);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One message' })
  @ApiOkResponse({ type: MessageDto })
  get(@Tenant() t: TenantCtx, @Param('id') id: string) {
    return this.messages.get(t, id);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete the message (emits message.deleted)' })
  @ApiNoContentResponse()
  delete(@Tenant() t: TenantCtx, @Param('id') id: string, @Mutation() m: MutationRequest) {
    return this.messages.delete(t, id, m);
  }
}
