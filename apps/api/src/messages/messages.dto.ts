import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsByteLength, IsString, Length } from 'class-validator';
import { resourceDtos } from '../docs/resource-schema';
import { IsStringMap } from '../http/string-map.validator';
import { IfPresent } from '../http/optional.validator';
import { PageQuery } from '../resources/resources.dto';
import { MESSAGE } from './message.resource';

export class CreateMessageDto {
  @ApiProperty({ example: 'alice@example.com' })
  @IsString()
  @Length(1, 256)
  from!: string;

  @ApiProperty({ example: 'support' })
  @IsString()
  @Length(1, 128)
  channel!: string;

  @ApiProperty({ example: 'Where is my order?', maxLength: 65536 })
  @IsString()
  // 64 KiB of UTF-8, the size the event carries (a character limit would let 4-byte characters through at 256 KiB).
  @IsByteLength(1, 65_536, { message: 'body must be between 1 byte and 64 KiB of UTF-8' })
  body!: string;

  @ApiPropertyOptional({ example: {} })
  @IfPresent()
  @IsStringMap()
  metadata?: Record<string, string>;
}

export class ListMessagesQuery extends PageQuery {
  @ApiPropertyOptional()
  @IfPresent()
  @IsString()
  @Length(1, 128)
  channel?: string;
}

/** Response shapes of the message endpoints: the message's view, derived from its state schema (message.resource.ts). */
export const { view: MessageDto, page: MessagePageDto } = resourceDtos(MESSAGE, 'Message');
